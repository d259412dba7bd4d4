/**
 * Installs fitstream's training kernels into tfjs-backend-wasm: the gradient kernels it lacks (so conv, depthwise,
 * separable, conv-transpose and embedding layers can train) and faster versions of kernels whose native
 * implementation falls off XNNPACK (transposed matMul, stride-1 conv input gradient).
 *
 * Only the 'wasm' backend's registry entries are touched. Every replaced kernel's original config is kept so that
 * {@link uninstallWasmKernels} can restore the registry exactly.
 */
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs';
import { createBatchMatMulKernel } from './kernels/batch-mat-mul-transpose.js';
import { routeStepGradients } from './dense/route-step-gradients.js';
import {
  BIAS_GRAD,
  CATEGORICAL_ACCURACY,
  CATEGORICAL_CROSSENTROPY,
  CATEGORICAL_CROSSENTROPY_GRAD,
  RELU_GRAD,
  SOFTMAX_GRAD,
  createBiasGradKernel,
  createCategoricalAccuracyKernel,
  createCategoricalCrossentropyGradKernel,
  createCategoricalCrossentropyKernel,
  createReluGradKernel,
  createSoftmaxGradKernel,
} from './dense/step-kernels.js';
import { createConv2DBackpropFilterKernel } from './kernels/conv2d-backprop-filter.js';
import { createConv2DBackpropInputKernel } from './kernels/conv2d-backprop-input.js';
import { createConv2DKernel } from './kernels/conv2d-single-channel.js';
import {
  CONV2D_BIAS_ACTIVATION,
  createConv2DBiasActivationKernel,
  createReluBiasGradKernel,
  RELU_BIAS_GRAD,
  patchConvLayer,
  registerConv2DBiasActivationGradient,
  restoreConvLayer,
} from './kernels/conv2d-bias-activation.js';
import { createDenseBiasActivationKernel, DENSE_BIAS_ACTIVATION, patchDenseLayer, registerDenseBiasActivationGradient, restoreDenseLayer } from './dense/dense-bias-activation.js';
import { createDepthwiseConv2dBackpropFilterKernel } from './kernels/depthwise-conv2d-backprop-filter.js';
import { createDepthwiseConv2dBackpropInputKernel } from './kernels/depthwise-conv2d-backprop-input.js';
import { createFusedMatMulKernel } from './kernels/fused-mat-mul-transpose.js';
import { createGatherV2Kernel } from './kernels/gather-v2.js';
import { createMaxPoolGradKernel } from './kernels/max-pool-grad.js';
import { createMaxPoolKernel } from './kernels/max-pool.js';
import { createSliceKernel } from './kernels/slice.js';
import { createIdentityKernel } from './kernels/identity.js';
import { createCastKernel } from './kernels/cast.js';
import { CLIP_BY_VALUE_GRAD, createClipByValueGradKernel, routeClipByValueGradient } from './kernels/clip-by-value-grad.js';
import { FUSED_KERNELS, fusedKernelFunc, fusedMaxElements, type FusedUpdateKernelConfig } from './fused-updates/fused-update-kernels.js';
import { createUnsortedSegmentSumKernel } from './kernels/unsorted-segment-sum.js';
import { createTileKernel } from './kernels/heap-tile.js';
import { createSumKernel } from './kernels/sum-leading-axes.js';
import { createAddKernel } from './kernels/add-channel-bias.js';
import {
  BATCH_NORM_TRAIN,
  BATCH_NORM_TRAIN_GRAD,
  createBatchNormTrainGradKernel,
  createBatchNormTrainKernel,
  patchBatchNormLayer,
  registerBatchNormTrainingGradient,
  restoreBatchNormLayer,
} from './kernels/batch-norm-training.js';
import { type KernelTable, requireWasmKernel, resolveKernelTable } from './kernels/wasm-kernel-scope.js';
import { gemmMatMulSettled, type MatMulThreadsReport, startGemmMatMul, stopGemmMatMul } from './gemm/gemm-mat-mul.js';
import { RECURRENT_KERNELS, restoreRecurrentLayers } from './recurrent/fused-recurrent-layers.js';
import type { Tf } from './kernels/wasm-kernel-types.js';
import { installKernel, type InstalledKernels, type KernelReport, reportOf, requireOriginal as requireRegistered, uninstallKernels } from './kernel-registry.js';

const BACKEND = 'wasm';

/**
 * Which kernel groups {@link installWasmKernels} installs; every group defaults to `true`. `@fitstream/backends` writes
 * the same fields out as `WasmKernelGroups` on purpose (it must not import this optional package); index.test-d.ts
 * keeps the two equal.
 */
export interface WasmKernelOptions {
  /**
   * `BatchMatMul` / `_FusedMatMul`: unbatched float32 products (transposed or not; plain ones with an inner dimension
   * ≥ 32) on fitstream's own WebAssembly SIMD GEMM in place on the wasm heap, which reads transposed operands where
   * they lie; batched products with a transposed operand through an explicit transpose and the fast plain product.
   */
  readonly matMulTranspose?: boolean;
  /**
   * With `matMulTranspose`: unbatched float32 products on fitstream's own WebAssembly SIMD GEMM, which reads
   * transposed operands in place; large ones (≥ 2²³ multiply-adds) split
   * with a second thread under Node.js (main thread, ≥ 2 cores, `FITSTREAM_WASM_MATMUL_THREADS` not `1`): this thread
   * computes its part in place on the wasm heap, the worker the rest from copies of what it needs. In a web page the
   * products run in place on one thread where tfjs runs one (XNNPACK keeps them where tfjs has threads of its own).
   * Bit-identical on one thread and two.
   * {@link wasmMatMulThreads} says how many threads it runs on. `false` (or `FITSTREAM_WASM_MATMUL_THREADS=0`) leaves
   * every product on XNNPACK; unlike the groups, it also switches the GEMM off after an earlier install.
   */
  readonly ownGemm?: boolean;
  /** `Conv2DBackpropFilter` (missing natively) and a faster `Conv2DBackpropInput` (stride 1, and strided with ≥ 4 input channels). */
  readonly convGradients?: boolean;
  /**
   * Forward kernels of a small CNN: `Conv2D` with one input channel at stride 1 (a first layer on grey images; XNNPACK
   * has nothing to vectorise over in its inner dimension) as register-blocked WebAssembly SIMD loops, the 2×2 /
   * stride-2 `MaxPool` over even sizes with channels a multiple of 4 as one SIMD pass, and tfjs-layers' `Conv2D` with
   * a bias and relu in training as one kernel (`FitstreamConv2DBiasActivation`, with a gradient of its own) instead of
   * conv, bias add and relu: while installed, the layer class's `call` takes that path on the wasm backend under a
   * gradient tape; {@link uninstallWasmKernels} restores the class. Other convolutions and pools run the stock kernels.
   */
  readonly convForward?: boolean;
  /** `UnsortedSegmentSum` (missing natively; the gradient of gather, i.e. of Embedding). */
  readonly embeddingGradient?: boolean;
  /** `DepthwiseConv2dNativeBackpropFilter` and `DepthwiseConv2dNativeBackpropInput` (both missing natively). */
  readonly depthwiseGradients?: boolean;
  /** `MaxPoolGrad`: the stock kernel is wrong whenever input height ≠ width (every maxPooling1d included). */
  readonly poolGradients?: boolean;
  /**
   * `GatherV2` (batchDims 0, any axis) and `Slice` copying whole rows straight from the wasm heap: the stock kernels
   * copy element by element (gather) or copy the whole source tensor first (slice) — the batch-assembly cost.
   */
  readonly batchCopies?: boolean;
  /**
   * `Identity` sharing its input's heap memory (a reference count) instead of copying it: the gradient tape clones
   * every tensor it saves with `Identity` (≈ 1 500 per LSTM training step); likewise `Cast` to the same dtype (the
   * gradient of those clones).
   */
  readonly sharedIdentity?: boolean;
  /** The gradient of `ClipByValue` (hard sigmoid: LSTM/GRU gates) as one kernel instead of five. */
  readonly activationGradients?: boolean;
  /**
   * Fewer dispatches per dense training step: the gradients of `Relu`, `Softmax` and a bias `Add` as one kernel each, the
   * categorical cross-entropy (forward and gradient) and categorical accuracy that `@fitstream/losses` (and so the
   * trainer) finds in tfjs' kernel registry by name, each one kernel instead of a chain of 5–20, and tfjs-layers'
   * `Dense` with a bias in training as one kernel with its relu or none (`FitstreamDenseBiasActivation`, whose gradient
   * is one relu-and-bias or bias pass and the two products; another activation follows it) instead of matMul, bias
   * add and relu: while installed, the layer class's `call` takes that path on the wasm backend under a gradient tape
   * for inputs of rank 2; {@link uninstallWasmKernels} restores it.
   */
  readonly stepFusions?: boolean;
  /**
   * Fused Adam / RMSProp / momentum / SGD updates (one kernel per variable instead of ≈10), used by the trainer
   * through `applyOptimizerUpdate` (@fitstream/optimizers), which finds them in tfjs' kernel registry; bit-identical to
   * tfjs' optimizers.
   */
  readonly optimizerUpdates?: boolean;
  /**
   * tfjs-layers' `LSTM` and `GRU` as whole-sequence kernels: the forward pass over all time steps in one kernel and
   * backpropagation through time in one kernel (the input projection and the weight gradients as one matMul each),
   * instead of ≈15 kernels per time step each way. While installed, the layers' `call` takes this path on the wasm
   * backend for linear/relu/tanh/sigmoid/hardSigmoid activations, with or without `returnSequences`, `returnState`,
   * `goBackwards`, initial states, `stateful` and inside `Bidirectional`; a mask, dropout while training, `unroll`,
   * other activations or a custom cell run the original layer, with the reason written once per layer
   * (`console.warn`). {@link uninstallWasmKernels} restores the layer classes.
   */
  readonly recurrentLayers?: boolean;
  /**
   * `Tile` as block copies on the heap (the stock kernel indexes element by element: tfjs' batch-normalisation
   * gradient tiles a per-channel tensor to the whole activation every step), `Sum` over leading axes (bias
   * gradients) as one WebAssembly SIMD pass (the stock kernel transposes first), and `Add` of a channel vector to an
   * activation (a conv layer's bias in training) as one SIMD pass (the stock kernel's broadcasting loop is ≈ 4× slower).
   */
  readonly broadcastKernels?: boolean;
  /**
   * tfjs-layers' `BatchNormalization` in training as one forward kernel (statistics + normalisation) and one backward
   * kernel instead of ≈ 45: while installed, the layer class's `call` takes this path on the wasm backend when training
   * with the channels axis last and both γ and β; {@link uninstallWasmKernels} restores the class.
   */
  readonly batchNormTraining?: boolean;
}

/** What fitstream's kernels currently occupy in the wasm registry (native kernels replaced are kept for {@link uninstallWasmKernels}). */
export type WasmKernelReport = KernelReport;

/** The options that name kernel groups (`ownGemm` is a route inside `matMulTranspose`'s kernels). */
type Group = Exclude<keyof WasmKernelOptions, 'ownGemm'>;

interface KernelFactoryContext {
  readonly tf: Tf;
  readonly table: KernelTable;
  /** The kernel currently registered under the name being installed (the one ours replaces), if any. */
  readonly current: KernelConfig | undefined;
}

/** One kernel of a group: its name, how to build it, and what its registration carries besides tfjs' fields. */
interface KernelEntry {
  readonly name: string;
  readonly create: (ctx: KernelFactoryContext) => KernelFunc;
  /** For the fused updates: the hint `applyOptimizerUpdate` (@fitstream/optimizers) reads from the registration. */
  readonly extra?: Pick<FusedUpdateKernelConfig, 'maxElements'>;
}

/** The kernels of each group, with how to build them. */
const GROUPS: Record<Group, readonly KernelEntry[]> = {
  matMulTranspose: [
    { name: 'BatchMatMul', create: ({ table, current }) => createBatchMatMulKernel(table, requireOriginal('BatchMatMul', current)) },
    {
      name: '_FusedMatMul',
      create: ({ table, current }) => createFusedMatMulKernel(table, requireOriginal('_FusedMatMul', current)),
    },
  ],
  convGradients: [
    {
      name: 'Conv2DBackpropFilter',
      create: ({ tf, table }) =>
        createConv2DBackpropFilterKernel(tf, table, {
          matMul: nativeMatMul(tf),
          // Only the one-input-channel direct path: the im2col GEMM loses inside a training step (conv2d-backprop-filter.ts).
          maxColsElements: 0,
        }),
    },
    {
      name: 'Conv2DBackpropInput',
      create: ({ tf, table, current }) =>
        createConv2DBackpropInputKernel(tf, table, requireOriginal('Conv2DBackpropInput', current), {
          // Below 4 input channels the native loop wins for strided convs (measurements in conv2d-backprop-input.ts).
          minInChannelsForStrided: 4,
        }),
    },
  ],
  convForward: [
    { name: 'Conv2D', create: ({ tf, table, current }) => createConv2DKernel(tf, table, requireOriginal('Conv2D', current)) },
    { name: 'MaxPool', create: ({ tf, current }) => createMaxPoolKernel(tf, requireOriginal('MaxPool', current)) },
    {
      name: CONV2D_BIAS_ACTIVATION,
      create: ({ tf, table }) => (
        registerConv2DBiasActivationGradient(tf), patchConvLayer(tf), createConv2DBiasActivationKernel(tf, table, requireWasmKernel(tf, 'FusedConv2D').kernelFunc)
      ),
    },
    { name: RELU_BIAS_GRAD, create: () => createReluBiasGradKernel() },
  ],
  embeddingGradient: [{ name: 'UnsortedSegmentSum', create: () => createUnsortedSegmentSumKernel() }],
  depthwiseGradients: [
    {
      name: 'DepthwiseConv2dNativeBackpropFilter',
      create: ({ tf, table }) => createDepthwiseConv2dBackpropFilterKernel(tf, table),
    },
    {
      name: 'DepthwiseConv2dNativeBackpropInput',
      create: ({ tf, table }) => createDepthwiseConv2dBackpropInputKernel(tf, table),
    },
  ],
  poolGradients: [{ name: 'MaxPoolGrad', create: ({ tf }) => createMaxPoolGradKernel(tf) }],
  stepFusions: [
    { name: RELU_GRAD, create: ({ tf }) => (routeStepGradients(tf), createReluGradKernel()) },
    { name: SOFTMAX_GRAD, create: ({ tf }) => (routeStepGradients(tf), createSoftmaxGradKernel()) },
    { name: BIAS_GRAD, create: ({ tf }) => (routeStepGradients(tf), createBiasGradKernel()) },
    { name: CATEGORICAL_CROSSENTROPY, create: () => createCategoricalCrossentropyKernel() },
    { name: CATEGORICAL_CROSSENTROPY_GRAD, create: () => createCategoricalCrossentropyGradKernel() },
    { name: CATEGORICAL_ACCURACY, create: () => createCategoricalAccuracyKernel() },
    {
      name: DENSE_BIAS_ACTIVATION,
      create: ({ tf, table }) => (registerDenseBiasActivationGradient(tf), patchDenseLayer(tf), createDenseBiasActivationKernel(tf, table, () => installed.has('_FusedMatMul'))),
    },
    { name: RELU_BIAS_GRAD, create: () => createReluBiasGradKernel() },
  ],
  batchCopies: [
    { name: 'GatherV2', create: ({ current }) => createGatherV2Kernel(requireOriginal('GatherV2', current)) },
    { name: 'Slice', create: ({ tf, current }) => createSliceKernel(tf, requireOriginal('Slice', current)) },
  ],
  sharedIdentity: [
    { name: 'Identity', create: ({ current }) => createIdentityKernel(requireOriginal('Identity', current)) },
    { name: 'Cast', create: ({ current }) => createCastKernel(requireOriginal('Cast', current)) },
  ],
  activationGradients: [{ name: CLIP_BY_VALUE_GRAD, create: ({ tf }) => (routeClipByValueGradient(tf), createClipByValueGradKernel()) }],
  broadcastKernels: [
    { name: 'Tile', create: ({ current }) => createTileKernel(requireOriginal('Tile', current)) },
    { name: 'Sum', create: ({ current }) => createSumKernel(requireOriginal('Sum', current)) },
    { name: 'Add', create: ({ current }) => createAddKernel(requireOriginal('Add', current)) },
  ],
  batchNormTraining: [
    { name: BATCH_NORM_TRAIN, create: ({ tf }) => (registerBatchNormTrainingGradient(tf), patchBatchNormLayer(tf), createBatchNormTrainKernel()) },
    { name: BATCH_NORM_TRAIN_GRAD, create: () => createBatchNormTrainGradKernel() },
  ],
  recurrentLayers: RECURRENT_KERNELS,
  optimizerUpdates: Object.values(FUSED_KERNELS).map((name) => ({ name, create: () => fusedKernelFunc(name), extra: { maxElements: fusedMaxElements } })),
};

/**
 * Kernels installed by this module, by name, in install order. The tfjs kernel registry is process-global (shared
 * through tfjs' global namespace), so this bookkeeping is module-global too.
 */
const installed: InstalledKernels = new Map();

/**
 * Registers fitstream's wasm training kernels. Call right after `await tf.setBackend('wasm')`.
 *
 * Idempotent: a kernel that is already installed is left alone, so calling twice is safe; options only ever add
 * groups (use {@link uninstallWasmKernels} to remove). The returned report lists everything fitstream's kernels
 * occupy after the call, not only what this call changed, so it is the same on a repeated call.
 *
 * @throws Error if the wasm backend is not registered and initialised, or lacks a kernel the replacements build on.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import '@tensorflow/tfjs-backend-wasm';
 * import { installWasmKernels } from '@fitstream/backend-wasm';
 *
 * await tf.setBackend('wasm');
 * const { registered, replaced } = installWasmKernels(tf);                 // every group
 * installWasmKernels(tf, { optimizerUpdates: false, matMulTranspose: false }); // or some of them
 * ```
 */
export function installWasmKernels(tf: Tf, options: WasmKernelOptions = {}): WasmKernelReport {
  assertWasmReady(tf);
  const table = resolveKernelTable(tf);
  // Not a kernel group but a route inside the matMul kernels: `false` also takes it back from an earlier install.
  if (options.ownGemm === false) {
    void stopGemmMatMul();
  } else if (options.matMulTranspose !== false) {
    startGemmMatMul();
  }
  for (const group of Object.keys(GROUPS) as Group[]) {
    if (options[group] === false) {
      continue;
    }
    for (const { name, create, extra } of GROUPS[group]) {
      installKernel(tf, BACKEND, installed, name, (current) => create({ tf, table, current }), extra);
    }
  }
  return report();
}

/**
 * Removes fitstream's wasm kernels and re-registers the exact original configs they replaced; kernels the wasm
 * backend never had are unregistered again. A kernel someone else re-registered after us is left alone.
 * Safe to call when nothing is installed.
 * @returns what was installed before the call.
 *
 * @example
 * ```ts
 * const before = uninstallWasmKernels(tf); // stock tfjs-backend-wasm kernels from here on
 * if (before.registered.length + before.replaced.length > 0) installWasmKernels(tf); // put them back later
 * ```
 */
export function uninstallWasmKernels(tf: Tf): WasmKernelReport {
  const before = report();
  void stopGemmMatMul();
  restoreBatchNormLayer();
  restoreRecurrentLayers();
  restoreConvLayer();
  restoreDenseLayer();
  uninstallKernels(tf, BACKEND, installed);
  return before;
}

/**
 * How many threads the large matMuls run on (see {@link WasmKernelOptions.ownGemm}): 2, 1 with the reason, or 0 when
 * XNNPACK serves them. Resolves once the second thread has started or failed to (at most `timeoutMs`).
 *
 * @example
 * ```ts
 * installWasmKernels(tf);
 * console.log(await wasmMatMulThreads()); // { threads: 2 } on a 2-core machine under Node.js
 * ```
 */
export function wasmMatMulThreads(timeoutMs = 10_000): Promise<MatMulThreadsReport> {
  return gemmMatMulSettled(timeoutMs);
}

function report(): WasmKernelReport {
  return reportOf(installed);
}

function assertWasmReady(tf: Tf): void {
  const engine = tf.engine();
  // Read the engine's maps directly: tf.findBackend() would start initialising a registered-but-idle backend.
  if (engine.registry[BACKEND] === undefined) {
    const registeredOnly = engine.registryFactory[BACKEND] !== undefined;
    throw new Error(
      registeredOnly
        ? "installWasmKernels: the 'wasm' backend is registered but not initialised; `await tf.setBackend('wasm')` first"
        : "installWasmKernels: no 'wasm' backend is registered; import '@tensorflow/tfjs-backend-wasm' and " +
            "`await tf.setBackend('wasm')` first",
    );
  }
}

/** The stock wasm `BatchMatMul` (the one ours replaced, if it is installed). */
function nativeMatMul(tf: Tf): KernelFunc {
  const ours = installed.get('BatchMatMul');
  return requireOriginal('BatchMatMul', ours?.original ?? (tf.getKernel('BatchMatMul', BACKEND) as KernelConfig | undefined));
}

function requireOriginal(name: string, current: KernelConfig | undefined): KernelFunc {
  return requireRegistered('installWasmKernels', BACKEND, name, current);
}
