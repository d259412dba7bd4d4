import { NativeInstallError } from './native-install-error.js';
import { runProcess } from './run-process.js';

/** What the numeric check of a freshly built binding found. */
export interface NativeCheck {
  /** `TF_Version()` of the library the binding loaded. */
  readonly tensorflowVersion: string;
  /** Whether TensorFlow placed the ops on a GPU. */
  readonly gpu: boolean;
  /** The ops compared with tfjs' `cpu` backend, and the largest absolute difference over all of them. */
  readonly ops: readonly string[];
  readonly maxAbsDifference: number;
}

/** Tolerance of the check: float32 results of small products and convolutions agree to ~1e-6 across backends. */
export const NATIVE_CHECK_TOLERANCE = 1e-4;

// Runs in a child process so that a binding that crashes (a missing symbol, a CUDA fault) cannot take the CLI down.
// The inputs are fixed formulas, so the check needs no randomness.
const CHECK = `
const tf = await import(process.env.FITSTREAM_NATIVE_PACKAGE);
if (tf.getBackend() !== 'tensorflow') await tf.setBackend('tensorflow');
const backend = tf.backend();
const fill = (shape, k) => tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * k + 0.3)), shape);
const cases = {
  matMul: () => tf.matMul(fill([64, 32], 0.7), fill([32, 16], 1.1)),
  conv2d: () => tf.conv2d(fill([2, 9, 9, 3], 0.37), fill([3, 3, 3, 4], 0.91), 1, 'same'),
  softmaxCrossEntropyGrad: () => tf.grad((x) => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d([0, 2, 1, 3], 'int32'), 4), x))(fill([4, 4], 0.5)),
  meanReluSum: () => tf.relu(fill([16, 8], 1.7)).mean(0),
};
const results = {};
for (const [name, f] of Object.entries(cases)) results[name] = Array.from(tf.tidy(f).dataSync());
await tf.setBackend('cpu');
let max = 0;
for (const [name, f] of Object.entries(cases)) {
  const expected = tf.tidy(f).dataSync();
  results[name].forEach((v, i) => { max = Math.max(max, Math.abs(v - expected[i])); if (!Number.isFinite(v)) max = Infinity; });
}
process.stdout.write('FITSTREAM_NATIVE_CHECK ' + JSON.stringify({
  tensorflowVersion: backend.binding.TF_Version, gpu: Boolean(backend.isUsingGpuDevice), ops: Object.keys(cases), maxAbsDifference: max,
}) + '\\n');
`;

/**
 * Loads tfjs-node (or -gpu) from `projectDir` in a child Node process and compares a few ops with tfjs' `cpu` backend.
 * @throws NativeInstallError (step `verify`) when it does not load or computes wrongly.
 */
export async function verifyBinding(projectDir: string, packageName: string, options: { signal?: AbortSignal } = {}): Promise<NativeCheck> {
  const result = await runProcess(process.execPath, ['--input-type=module', '-e', CHECK], {
    cwd: projectDir,
    env: { ...process.env, FITSTREAM_NATIVE_PACKAGE: packageName, TF_CPP_MIN_LOG_LEVEL: '2' },
    timeoutMs: 180_000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const line = result.stdout.split('\n').find((l) => l.startsWith('FITSTREAM_NATIVE_CHECK '));
  if (result.code !== 0 || line === undefined) {
    const why = result.failure ?? `exit ${String(result.code)}`;
    const detail = `${result.stderr}`.trim().split('\n').slice(-6).join('\n  ');
    throw new NativeInstallError('verify', `The built ${packageName} did not load (${why}):\n  ${detail}`, `run again with FITSTREAM_DEBUG=1 and report the output; \`fitstream doctor\` shows what loads`);
  }
  const check = JSON.parse(line.slice('FITSTREAM_NATIVE_CHECK '.length)) as NativeCheck;
  if (!(check.maxAbsDifference <= NATIVE_CHECK_TOLERANCE)) {
    throw new NativeInstallError(
      'verify',
      `The built ${packageName} loads TensorFlow ${check.tensorflowVersion} but computes wrongly: results differ from the cpu backend by up to ${check.maxAbsDifference} (tolerance ${NATIVE_CHECK_TOLERANCE}) over ${check.ops.join(', ')}.`,
      'use another TensorFlow wheel (python3 -m pip install tensorflow-cpu==2.21.0) and run `fitstream native install` again',
    );
  }
  return check;
}
