import { describe, expect, it } from 'vitest';
import { constantLr, cosineDecay, cosineRestarts, exponentialDecay, multiStepDecay, oneCycle, polynomialDecay, stepDecay, warmup } from '../../index.js';

// Golden values computed with the PyTorch scheduler closed forms / get_lr and the Keras schedule formulas
// (transcribed in src/test-support/schedule-golden-values.py; run it with python3). Indices are 0-based steps.
const close = (actual: number[], expected: number[]) => actual.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 12));
const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => i + from);

describe('schedules are pure functions (t, base?) → lr with PyTorch/Keras golden values', () => {
  it('stepDecay = torch StepLR(step_size=3, gamma=0.5)', () => {
    close(range(10).map((t) => stepDecay({ stepSize: 3, gamma: 0.5, initialLr: 0.1 })(t)), [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125]);
  });

  it('multiStepDecay = torch MultiStepLR(milestones=[2,5,7], gamma=0.1)', () => {
    close(range(9).map((t) => multiStepDecay({ milestones: [2, 5, 7], gamma: 0.1 })(t, 0.1)), [0.1, 0.1, 0.01, 0.01, 0.01, 0.001, 0.001, 0.0001, 0.0001]);
  });

  it('exponentialDecay = keras ExponentialDecay(0.1, decay_steps=4, decay_rate=0.96), smooth and staircase', () => {
    const s = exponentialDecay({ decayRate: 0.96, decaySteps: 4, initialLr: 0.1 });
    close(range(9).map((t) => s(t)), [0.1, 0.0989846400767953, 0.09797958971132713, 0.09698474422447793, 0.096, 0.09502525447372351, 0.09406040612287403, 0.0931053544554988, 0.09216]);
    const stairs = exponentialDecay({ decayRate: 0.96, decaySteps: 4, staircase: true, initialLr: 0.1 });
    close(range(9).map((t) => stairs(t)), [0.1, 0.1, 0.1, 0.1, 0.096, 0.096, 0.096, 0.096, 0.09216]);
  });

  it('polynomialDecay = keras PolynomialDecay(0.1, 8, end 0.001, power 2), and with cycle', () => {
    const s = polynomialDecay({ decaySteps: 8, endLr: 0.001, power: 2, initialLr: 0.1 });
    close(range(11).map((t) => s(t)), [0.1, 0.076796875, 0.0566875, 0.039671875, 0.02575, 0.014921875, 0.0071875, 0.002546875, 0.001, 0.001, 0.001]);
    const cycle = polynomialDecay({ decaySteps: 4, cycle: true, initialLr: 0.1 });
    close(range(10, 1).map((t) => cycle(t)), [0.075, 0.05, 0.025, 0, 0.0375, 0.025, 0.0125, 0, 0.025, 0.016666666666666663]);
  });

  it('cosineDecay = torch CosineAnnealingLR(T_max=10, eta_min=0.001), held after T_max', () => {
    close(range(13).map((t) => cosineDecay({ totalSteps: 10, minLr: 0.001 })(t, 0.1)), [
      0.1, 0.09757729755661011, 0.0905463412215599, 0.07959536998847742, 0.0657963412215599, 0.0505, 0.03520365877844011, 0.021404630011522586,
      0.010453658778440109, 0.0034227024433899004, 0.001, 0.001, 0.001,
    ]);
  });

  it('cosineRestarts = torch CosineAnnealingWarmRestarts (T_0=4, T_mult=1) and (T_0=3, T_mult=2, eta_min=0.01)', () => {
    close(range(10).map((t) => cosineRestarts({ t0: 4 })(t, 0.1)), [0.1, 0.08535533905932738, 0.05, 0.014644660940672627, 0.1, 0.08535533905932738, 0.05, 0.014644660940672627, 0.1, 0.08535533905932738]);
    close(range(22).map((t) => cosineRestarts({ t0: 3, tMult: 2, minLr: 0.01 })(t, 0.1)), [
      0.1, 0.0775, 0.0325, 0.1, 0.09397114317029975, 0.0775, 0.055, 0.0325, 0.01602885682970026, 0.1, 0.09846666218300808, 0.09397114317029975,
      0.08681980515339464, 0.0775, 0.06664685702961344, 0.055, 0.04335314297038658, 0.0325, 0.023180194846605363, 0.01602885682970026,
      0.011533337816991932, 0.1,
    ]);
  });

  it('oneCycle = torch OneCycleLR(max_lr=0.1, total_steps=20) defaults (cos, div 25, final_div 1e4)', () => {
    close(range(20).map((t) => oneCycle({ maxLr: 0.1, totalSteps: 20 })(t)), [
      0.004, 0.013167184270002533, 0.037167184270002526, 0.06683281572999747, 0.09083281572999748, 0.1, 0.09874640062350874, 0.09504846320134738,
      0.089091617757105, 0.0811745653949763, 0.07169430017913009, 0.06112620219362893, 0.0500002, 0.03887419780637107, 0.028306099820869922,
      0.0188258346050237, 0.010908782242895003, 0.004951936798652629, 0.0012539993764912555, 4e-7,
    ]);
    // Past the end PyTorch raises; fitstream holds the final rate.
    expect(oneCycle({ maxLr: 0.1, totalSteps: 20 })(25)).toBeCloseTo(4e-7, 15);
  });

  it('oneCycle three_phase with linear annealing (pct_start 0.25)', () => {
    close(range(20).map((t) => oneCycle({ maxLr: 1, totalSteps: 20, pctStart: 0.25, annealStrategy: 'linear', threePhase: true })(t)), [
      0.04, 0.28, 0.52, 0.76, 1.0, 0.76, 0.52, 0.28, 0.04, 0.036364, 0.032728, 0.029092, 0.025456, 0.02182, 0.018184, 0.014548, 0.010912, 0.007276, 0.00364,
      3.99999999999706e-6,
    ]);
  });

  it('warmup ramps linearly to the inner schedule, which then starts at its own t = 0 (Keras CosineDecay warmup)', () => {
    const s = warmup({ steps: 4 }, cosineDecay({ totalSteps: 10, initialLr: 0.1 }));
    close(range(6).map((t) => s(t)), [0, 0.025, 0.05, 0.075, 0.1, 0.1 * (1 + Math.cos(Math.PI / 10)) / 2]);
    expect(s.name).toBe('warmup(cosine-decay)');
    const fromThird = warmup({ steps: 2, startFactor: 1 / 3 }, constantLr({ initialLr: 0.3 }));
    close([0, 1, 2].map((t) => fromThird(t)), [0.1, 0.2, 0.3]);
  });

  it('needs a base rate to be called before training, and validates options naming them', () => {
    expect(() => cosineDecay({ totalSteps: 10 })(3)).toThrow(/no base learning rate yet; pass initialLr/);
    expect(() => stepDecay({ stepSize: 0 })).toThrow(/stepDecay: stepSize must be an integer ≥ 1, got 0/);
    expect(() => multiStepDecay({ milestones: [5, 3] })).toThrow(/milestones must increase/);
    expect(() => oneCycle({ maxLr: 0.1, totalSteps: 10, pctStart: 1.5 })).toThrow(/pctStart must be a number in \(0, 1\)/);
    expect(() => cosineDecay({ totalSteps: 10, interval: 'batch' as never })).toThrow(/interval must be 'step' or 'epoch'/);
  });
});
