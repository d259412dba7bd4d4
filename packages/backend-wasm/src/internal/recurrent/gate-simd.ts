/**
 * The LSTM and GRU gate passes (forward and backward, one row of H units per call) as WebAssembly SIMD loops on the wasm
 * heap, assembled by wasm-assembly/simd-elementwise.ts. One module per (activation, recurrent activation) pair, built
 * on first use, so each pass has its activations inlined.
 *
 * Why: the JavaScript loops cost ≈5 ns per element and step (measured on the bench's LSTM: the gate passes were ≈60 %
 * of the fused kernels' time, the matMuls the rest); f32x4 loops run the same float32 formulas several times faster.
 * tanh is Eigen's float32 rational approximation (as in the JavaScript loops, see recurrent-heap.ts), sigmoid goes
 * through it, hard sigmoid is tfjs-layers' `clip(0.5 + 0.2·x, 0, 1)` exactly.
 */
import {
  add,
  constant,
  div,
  type Expr,
  gtMask,
  type KernelSpec,
  load,
  max,
  pmax,
  pmin,
  mul,
  ref,
  SimdModule,
  type Statement,
  sub,
} from '../wasm-assembly/simd-elementwise.js';
import { heapMemoryOf } from '../wasm-assembly/heap-module.js';
import { HARD_SIGMOID, recurrentSimdEnabled, RELU, SIGMOID, TANH } from './recurrent-heap.js';

/** The exported passes; pointers are heap byte offsets, `n` the number of units (H). */
export interface GatePasses {
  lstmForward(xi: number, xf: number, xg: number, xo: number, ri: number, rf: number, rg: number, ro: number, cp: number, gi: number, gf: number, gg: number, go: number, c: number, tc: number, h: number, y: number, n: number): void;
  lstmBackward(dy: number, dhn: number, dc: number, gi: number, gf: number, gg: number, go: number, tc: number, cp: number, hp: number, dzi: number, dzf: number, dzg: number, dzo: number, zi: number, zf: number, zg: number, zo: number, hpOut: number, dcOut: number, n: number): void;
  /** {@link lstmForward} on `rows` rows: after `n`, the row count and one stride (bytes) per pointer, in the same order. */
  lstmForwardRows(...pointersNRowsStrides: number[]): void;
  /** {@link lstmBackward} on `rows` rows (as {@link lstmForwardRows}). */
  lstmBackwardRows(...pointersNRowsStrides: number[]): void;
  /** The GRU passes on `rows` rows (as {@link lstmForwardRows}). */
  gruForwardGatesRows(...pointersNRowsStrides: number[]): void;
  gruForwardOutputRows(...pointersNRowsStrides: number[]): void;
  gruBackwardOutputRows(...pointersNRowsStrides: number[]): void;
  gruBackwardGatesRows(...pointersNRowsStrides: number[]): void;
  /** z, r and r·h₋₁. */
  gruForwardGates(xz: number, xr: number, rz: number, rr: number, hp: number, gz: number, gr: number, rhStep: number, rhSeq: number, n: number): void;
  /** hh and h. */
  gruForwardOutput(xh: number, rech: number, gz: number, hp: number, ghh: number, h: number, y: number, n: number): void;
  /** Up to dRh = dah·U_hᵀ: the h₋₁ term through z, dz (pre-activation gradient of z) and dah. */
  gruBackwardOutput(dy: number, dhn: number, gz: number, ghh: number, hp: number, dhp: number, dz: number, dah: number, dahAll: number, dahZ: number, n: number): void;
  /** After dRh: dr, the h₋₁ term through r·h₋₁, and the rows of dZ, H₋₁ and r·h₋₁ for the weight gradients. */
  gruBackwardGates(drh: number, gr: number, hp: number, dhp: number, dz: number, rh: number, dhpOut: number, dzrZ: number, dzrR: number, zZ: number, zR: number, zrZ: number, zrR: number, hpOut: number, rhOut: number, n: number): void;
  /** out = a + b. */
  addInto(a: number, b: number, out: number, n: number): void;
}

class Body {
  readonly statements: Statement[] = [];
  #next = 0;

  let(value: Expr): Expr {
    const name = `t${this.#next++}`;
    this.statements.push({ let: name, value });
    return ref(name);
  }

  store(stream: string, value: Expr): void {
    this.statements.push({ store: stream, value });
  }
}

const TANH_CLAMP = 7.99881172180175781;
const NUMERATOR = [-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-8, 1.48572235717979e-5, 6.37261928875436e-4, 4.89352455891786e-3];
const DENOMINATOR = [1.19825839466702e-6, 1.18534705686654e-4, 2.268434632439e-3, 4.89352518554385e-3];

function horner(coefficients: readonly number[], x2: Expr): Expr {
  let acc: Expr = constant(coefficients[0]!);
  for (const c of coefficients.slice(1)) acc = add(mul(acc, x2), constant(c));
  return acc;
}

function tanh(body: Body, x: Expr): Expr {
  // The clamp with pmin / pmax: one instruction each where min / max take nine, the same values (NaN included).
  const t = body.let(pmax(pmin(x, constant(TANH_CLAMP)), constant(-TANH_CLAMP)));
  const t2 = body.let(mul(t, t));
  return div(mul(horner(NUMERATOR, t2), t), horner(DENOMINATOR, t2));
}

function activation(body: Body, code: number, x: Expr): Expr {
  switch (code) {
    case RELU:
      return max(x, constant(0));
    case TANH:
      return tanh(body, x);
    case SIGMOID:
      return add(constant(0.5), mul(constant(0.5), tanh(body, mul(constant(0.5), x))));
    case HARD_SIGMOID:
      // 0.5 + 0.2·x is never −0, so pmax against 0 gives max's result too.
      return pmin(pmax(add(constant(0.5), mul(constant(0.2), x)), constant(0)), constant(1));
    default:
      return x;
  }
}

/** The derivative in terms of the activation's output `y` (as `derivative` in recurrent-heap.ts). */
function derivative(code: number, y: Expr): Expr {
  switch (code) {
    case RELU:
      return gtMask(y, constant(0), constant(1));
    case TANH:
      return sub(constant(1), mul(y, y));
    case SIGMOID:
      return mul(y, sub(constant(1), y));
    case HARD_SIGMOID:
      return gtMask(y, constant(0), gtMask(constant(1), y, constant(0.2)));
    default:
      return constant(1);
  }
}

function lstmSpecs(act: number, ract: number): KernelSpec[] {
  const fwd = new Body();
  const i = fwd.let(activation(fwd, ract, add(load('xi'), load('ri'))));
  const f = fwd.let(activation(fwd, ract, add(load('xf'), load('rf'))));
  const g = fwd.let(activation(fwd, act, add(load('xg'), load('rg'))));
  const o = fwd.let(activation(fwd, ract, add(load('xo'), load('ro'))));
  const c = fwd.let(add(mul(f, load('cp')), mul(i, g)));
  const tc = fwd.let(activation(fwd, act, c));
  const h = fwd.let(mul(o, tc));
  for (const [stream, value] of [['gi', i], ['gf', f], ['gg', g], ['go', o], ['c', c], ['tc', tc], ['h', h], ['y', h]] as const) fwd.store(stream, value);

  const bwd = new Body();
  const dh = bwd.let(add(load('dy'), load('dhn')));
  const [bi, bf, bg, bo, btc] = ['gi', 'gf', 'gg', 'go', 'tc'].map((stream) => bwd.let(load(stream))) as [Expr, Expr, Expr, Expr, Expr];
  const dct = bwd.let(add(load('dc'), mul(mul(dh, bo), derivative(act, btc))));
  const dzi = bwd.let(mul(mul(dct, bg), derivative(ract, bi)));
  const dzf = bwd.let(mul(mul(dct, load('cp')), derivative(ract, bf)));
  const dzg = bwd.let(mul(mul(dct, bi), derivative(act, bg)));
  const dzo = bwd.let(mul(mul(dh, btc), derivative(ract, bo)));
  for (const [stream, value] of [['dzi', dzi], ['dzf', dzf], ['dzg', dzg], ['dzo', dzo], ['zi', dzi], ['zf', dzf], ['zg', dzg], ['zo', dzo], ['hpOut', load('hp')]] as const) bwd.store(stream, value);
  bwd.store('dcOut', mul(dct, bf)); // last: dcOut may be the dc stream itself

  return [...gruSpecs(act, ract),
    { name: 'lstmForward', inputs: ['xi', 'xf', 'xg', 'xo', 'ri', 'rf', 'rg', 'ro', 'cp'], outputs: ['gi', 'gf', 'gg', 'go', 'c', 'tc', 'h', 'y'], scalars: [], body: fwd.statements, rows: true },
    {
      name: 'lstmBackward',
      rows: true,
      inputs: ['dy', 'dhn', 'dc', 'gi', 'gf', 'gg', 'go', 'tc', 'cp', 'hp'],
      outputs: ['dzi', 'dzf', 'dzg', 'dzo', 'zi', 'zf', 'zg', 'zo', 'hpOut', 'dcOut'],
      scalars: [],
      body: bwd.statements,
    },
  ];
}

function gruSpecs(act: number, ract: number): KernelSpec[] {
  const gates = new Body();
  const z = gates.let(activation(gates, ract, add(load('xz'), load('rz'))));
  const r = gates.let(activation(gates, ract, add(load('xr'), load('rr'))));
  const rh = gates.let(mul(r, load('hp')));
  for (const [stream, value] of [['gz', z], ['gr', r], ['rhStep', rh], ['rhSeq', rh]] as const) gates.store(stream, value);

  const output = new Body();
  const hh = output.let(activation(output, act, add(load('xh'), load('rech'))));
  const oz = output.let(load('gz'));
  // tfjs-layers: z·h₋₁ + (1 − z)·hh
  const h = output.let(add(mul(oz, load('hp')), mul(sub(constant(1), oz), hh)));
  for (const [stream, value] of [['ghh', hh], ['h', h], ['y', h]] as const) output.store(stream, value);

  const back = new Body();
  const dh = back.let(add(load('dy'), load('dhn')));
  const bz = back.let(load('gz'));
  const bhh = back.let(load('ghh'));
  const dah = back.let(mul(mul(dh, sub(constant(1), bz)), derivative(act, bhh)));
  back.store('dhp', mul(dh, bz));
  back.store('dz', mul(mul(dh, sub(load('hp'), bhh)), derivative(ract, bz)));
  for (const stream of ['dah', 'dahAll', 'dahZ']) back.store(stream, dah);

  const backGates = new Body();
  const drh = backGates.let(load('drh'));
  const br = backGates.let(load('gr'));
  const dar = backGates.let(mul(mul(drh, load('hp')), derivative(ract, br)));
  const daz = backGates.let(load('dz'));
  backGates.store('dhpOut', add(load('dhp'), mul(drh, br)));
  for (const [stream, value] of [['dzrZ', daz], ['dzrR', dar], ['zZ', daz], ['zR', dar], ['zrZ', daz], ['zrR', dar], ['hpOut', load('hp')], ['rhOut', load('rh')]] as const) {
    backGates.store(stream, value);
  }

  return [
    { name: 'gruForwardGates', rows: true, inputs: ['xz', 'xr', 'rz', 'rr', 'hp'], outputs: ['gz', 'gr', 'rhStep', 'rhSeq'], scalars: [], body: gates.statements },
    { name: 'gruForwardOutput', rows: true, inputs: ['xh', 'rech', 'gz', 'hp'], outputs: ['ghh', 'h', 'y'], scalars: [], body: output.statements },
    { name: 'gruBackwardOutput', rows: true, inputs: ['dy', 'dhn', 'gz', 'ghh', 'hp'], outputs: ['dhp', 'dz', 'dah', 'dahAll', 'dahZ'], scalars: [], body: back.statements },
    {
      name: 'gruBackwardGates',
      rows: true,
      inputs: ['drh', 'gr', 'hp', 'dhp', 'dz', 'rh'],
      outputs: ['dhpOut', 'dzrZ', 'dzrR', 'zZ', 'zR', 'zrZ', 'zrR', 'hpOut', 'rhOut'],
      scalars: [],
      body: backGates.statements,
    },
    { name: 'addInto', inputs: ['a', 'b'], outputs: ['out'], scalars: [], body: [{ store: 'out', value: add(load('a'), load('b')) }] },
  ];
}

const modules = new Map<string, SimdModule<GatePasses>>();

export { setRecurrentSimdEnabled } from './recurrent-heap.js';

/** The gate passes' module for these activations (built on first use). */
export function gateModule(act: number, ract: number): SimdModule<GatePasses> {
  const key = `${act}:${ract}`;
  let simd = modules.get(key);
  if (simd === undefined) {
    simd = new SimdModule<GatePasses>(() => lstmSpecs(act, ract));
    modules.set(key, simd);
  }
  return simd;
}

/** The gate passes for these activations on `backend`'s heap, or undefined (no SIMD: the JavaScript loops run). */
export function gatePasses(backend: unknown, act: number, ract: number): GatePasses | undefined {
  if (!recurrentSimdEnabled()) return undefined;
  const memory = heapMemoryOf(backend);
  return memory === undefined ? undefined : gateModule(act, ract).for(memory);
}
