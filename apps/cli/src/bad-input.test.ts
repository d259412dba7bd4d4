// Bad input, one table (issue 17): the library API, YAML/JSON configs, CLI flags, data files, checkpoints and run
// directories. Every row gets the documented error class (or exit code 2 with `fitstream: …`/`error: …` on stderr),
// a message naming the argument and one saying the fix — and no run directory, checkpoint or log that existed before
// is changed: a real run is hashed file by file before the table and compared after it.
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointCorruptError, FitstreamInputError, createTrainer, readCheckpoint, selectBackend, type Plugin } from '@fitstream/core';
import { cosineDecay, csvLogger, earlyStopping, modelCheckpoint, multiStepDecay, progressBar, reduceLROnPlateau } from '@fitstream/callbacks';
import { bootstrap, kFold, trainTestSplit } from '@fitstream/samplers';
import { classWeights, clipGradNorm, l2, labelSmoothing } from '@fitstream/regularisers';
import { statefulRnn, windows } from '@fitstream/time-series';
import { loadIris, stratifiedSplit } from '@fitstream/datasets';
import { ConfigError, readConfigFile } from './config/resolve.js';
import { EXIT } from './exit.js';
import { createProgram, main } from './program.js';
import { RECIPES } from './recipes/index.js';
import { CliSandbox, parseSummary, type Run } from './test-support/cli.js';

type Category = 'library' | 'config' | 'flags' | 'data' | 'checkpoint';
type ErrorClass = abstract new (...args: never[]) => Error;

/** Paths the rows use, known once the runs exist. */
interface Fixtures {
  readonly dir: string;
  /** A finished run (model, checkpoints, logs). */
  readonly run: string;
  /** A finished run that kept its backup. */
  readonly backupRun: string;
  /** A checkpoint directory copied from `run`, for the library's checkpoint rows to corrupt copies of. */
  readonly checkpoint: string;
}

interface Row {
  readonly category: Category;
  readonly name: string;
  /** Library rows: what throws (or rejects). */
  readonly call?: (f: Fixtures) => unknown;
  /** CLI rows: the arguments of `fitstream`. */
  readonly args?: (f: Fixtures) => string[];
  /** CLI rows: run the real bin in a child process (the others call `main()` in this process: the same code, faster). */
  readonly bin?: true;
  /** Written (relative to the sandbox) before the row runs. */
  readonly files?: Readonly<Record<string, string>>;
  /** Library rows: the error class. */
  readonly error?: ErrorClass;
  /** CLI rows: the exit code (2 = usage, the default). */
  readonly exit?: number;
  /** The message names the argument at fault … */
  readonly argument: RegExp;
  /** … and says what to do. */
  readonly fix: RegExp;
}

const sandbox = new CliSandbox();
let fixtures: Fixtures;
let before: Map<string, string>;

const mlp = (inputs = 3, classes = 2): tf.Sequential => {
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [inputs], units: classes, activation: 'softmax' }));
  return model;
};
const trainer = (model: tf.LayersModel = mlp()) => createTrainer({ model, optimizer: 'sgd', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });
const data = (n = 8) => ({ x: tf.ones([n, 3]), y: tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => i % 2), 'int32'), 2).toFloat() });
const fit = { epochs: 1, batchSize: 4, handleSignals: false } as const;
const statefulModel = () => {
  const model = tf.sequential();
  model.add(tf.layers.simpleRNN({ units: 2, stateful: true, batchInputShape: [2, 4, 1] }));
  model.add(tf.layers.dense({ units: 1 }));
  return model;
};

/** A copy of the run's checkpoint with state.json edited by `edit` and re-signed (a consistent, but wrong, checkpoint). */
async function editedCheckpoint(f: Fixtures, name: string, edit: (state: Record<string, unknown>) => void, sign = true): Promise<string> {
  const dir = join(f.dir, 'library-checkpoints', name);
  await cp(f.checkpoint, dir, { recursive: true });
  const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as Record<string, unknown>;
  edit(state);
  if (sign) {
    const { checksum: _old, ...unsigned } = state;
    state['checksum'] = createHash('sha256').update(JSON.stringify(unsigned)).digest('hex');
  }
  await writeFile(join(dir, 'state.json'), JSON.stringify(state, null, 1));
  return dir;
}

/** A copy of the run's checkpoint with one file changed by `change` (not re-signed). */
async function damagedCheckpoint(f: Fixtures, name: string, change: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(f.dir, 'library-checkpoints', name);
  await cp(f.checkpoint, dir, { recursive: true });
  await change(dir);
  return dir;
}

const IRIS_HEADER = 'sepal length,sepal width,petal length,petal width';

const ROWS: readonly Row[] = [
  // ── the library API ────────────────────────────────────────────────────────────────────────────────────────────
  { category: 'library', name: 'createTrainer without options', call: () => createTrainer(undefined as never), error: FitstreamInputError, argument: /^options:/, fix: /\{ model, optimizer, loss \}/ },
  { category: 'library', name: 'createTrainer with a model that is no model', call: () => createTrainer({ model: {} as never, optimizer: 'sgd', loss: 'meanSquaredError', backend: 'current' }), error: FitstreamInputError, argument: /^model:/, fix: /tf\.LayersModel \(tf\.sequential/ },
  { category: 'library', name: 'createTrainer without an optimizer', call: () => createTrainer({ model: mlp(), loss: 'meanSquaredError', backend: 'current' } as never), error: FitstreamInputError, argument: /^optimizer:/, fix: /a name such as 'adam'/ },
  { category: 'library', name: 'createTrainer with an unknown optimizer', call: () => createTrainer({ model: mlp(), optimizer: 'adamw' as 'adam', loss: 'meanSquaredError', backend: 'current' }), error: FitstreamInputError, argument: /^optimizer: unknown optimizer "adamw"/, fix: /Use one of sgd, .*adam.*, or pass a tf\.train\.\* instance/ },
  { category: 'library', name: 'createTrainer with an unknown loss', call: () => createTrainer({ model: mlp(), optimizer: 'sgd', loss: 'crossEntropy' as 'huber', backend: 'current' }), error: FitstreamInputError, argument: /^loss: unknown loss "crossEntropy"/, fix: /Use one of 'meanSquaredError'/ },
  { category: 'library', name: 'createTrainer with a misspelt metric', call: () => createTrainer({ model: mlp(), optimizer: 'sgd', loss: 'categoricalCrossentropy', metrics: ['acuracy' as 'accuracy'], backend: 'current' }), error: FitstreamInputError, argument: /^metrics: unknown metric "acuracy"/, fix: /Known metrics: accuracy/ },
  { category: 'library', name: 'a negative learning rate', call: () => createTrainer({ model: mlp(), optimizer: { name: 'sgd', learningRate: -1 }, loss: 'meanSquaredError', backend: 'current' }), error: FitstreamInputError, argument: /^optimizer\.learningRate:/, fix: /finite number ≥ 0 such as 0\.001/ },
  { category: 'library', name: 'trainer.use(factory) instead of trainer.use(factory())', call: () => trainer().use(earlyStopping as unknown as Plugin), error: FitstreamInputError, argument: /^plugin:/, fix: /earlyStopping\(\), not earlyStopping/ },
  { category: 'library', name: 'x as a plain JavaScript array', call: () => trainer().fit({ x: [[1, 2, 3]], y: tf.ones([1, 2]) } as never, fit), error: FitstreamInputError, argument: /^data\.x: is a plain JavaScript array/, fix: /tf\.tensor2d\(rows\)/ },
  { category: 'library', name: 'y as a plain JavaScript array', call: () => trainer().fit({ x: tf.ones([1, 3]), y: [[1, 0]] } as never, fit), error: FitstreamInputError, argument: /^data\.y: is a plain JavaScript array/, fix: /tf\.tensor2d\(rows\)/ },
  { category: 'library', name: 'fit without data', call: () => trainer().fit(undefined as never, fit), error: FitstreamInputError, argument: /^data: is required/, fix: /pass \{ x, y \} tensors/ },
  { category: 'library', name: 'fit without options', call: () => trainer().fit(data(), undefined as never), error: FitstreamInputError, argument: /^options:/, fix: /at least \{ epochs \}/ },
  { category: 'library', name: 'epochs: "5" (a string)', call: () => trainer().fit(data(), { ...fit, epochs: '5' as never }), error: FitstreamInputError, argument: /^options\.epochs: .*got "5" \(a string/, fix: /pass a number/ },
  { category: 'library', name: 'epochs: 0', call: () => trainer().fit(data(), { ...fit, epochs: 0 }), error: FitstreamInputError, argument: /^options\.epochs: must be an integer ≥ 1, got 0/, fix: /index of the last epoch/ },
  { category: 'library', name: 'batchSize: 2.5', call: () => trainer().fit(data(), { ...fit, batchSize: 2.5 }), error: FitstreamInputError, argument: /^options\.batchSize:/, fix: /integer ≥ 1/ },
  { category: 'library', name: 'a misspelt fit option', call: () => trainer().fit(data(), { ...fit, epoch: 3 } as never), error: FitstreamInputError, argument: /"epoch" is not an option/, fix: /did you mean "epochs"/ },
  { category: 'library', name: 'validationSplit: 2', call: () => trainer().fit(data(), { ...fit, validationSplit: 2 } as never), error: FitstreamInputError, argument: /^options\.validationSplit:/, fix: /a fraction in \(0, 1\)/ },
  { category: 'library', name: 'features of the wrong shape', call: () => trainer().fit({ x: tf.ones([8, 5]), y: data().y }, fit), error: FitstreamInputError, argument: /^data\.x: samples have shape \[5\]/, fix: /expects \[3\]/ },
  { category: 'library', name: 'NaN in the features', call: () => trainer().fit({ x: tf.tensor2d([[1, 2, Number.NaN], [1, 2, 3]]), y: tf.ones([2, 2]) }, fit), error: FitstreamInputError, argument: /^data\.x: contains NaN or Infinity/, fix: /first at sample 0/ },
  { category: 'library', name: 'x and y of different lengths', call: () => trainer().fit({ x: tf.ones([5, 3]), y: tf.ones([4, 2]) }, fit), error: FitstreamInputError, argument: /^data\.x: has 5 samples but data\.y has 4/, fix: /samples/ },
  {
    category: 'library',
    name: 'a model disposed before fit',
    call: () => {
      const model = mlp();
      const t = trainer(model);
      model.dispose();
      return t.fit(data(), fit);
    },
    error: FitstreamInputError,
    argument: /^model: LayersModel ".*" is disposed/,
    fix: /build or load the model again/,
  },
  {
    category: 'library',
    name: 'a model disposed during fit',
    call: () => {
      const model = mlp();
      const t = trainer(model);
      t.events$.subscribe((e) => {
        if (e.type === 'batch:end' && !model.layers[0]!.weights[0]!.read().isDisposed) model.dispose();
      });
      return t.fit(data(), fit);
    },
    error: FitstreamInputError,
    argument: /^model: LayersModel ".*" was disposed while the fit ran/,
    fix: /dispose it only after trainer\.fit\(\) resolves/,
  },
  {
    category: 'library',
    name: 'a stateful RNN without statefulRnn',
    call: () => createTrainer({ model: statefulModel(), optimizer: 'sgd', loss: 'meanSquaredError', backend: 'current', log: null }).fit({ x: tf.ones([6, 4, 1]), y: tf.ones([6, 1]) }, fit),
    error: FitstreamInputError,
    argument: /^model: .* has a stateful RNN layer/,
    fix: /trainer\.use\(statefulRnn\(\{ model, data \}\)\)/,
  },
  { category: 'library', name: 'statefulRnn on a stateless model', call: () => statefulRnn({ model: mlp() }), error: FitstreamInputError, argument: /^options\.model:/, fix: /stateful: true, batchInputShape/ },
  { category: 'library', name: 'earlyStopping({ patience: -1 })', call: () => earlyStopping({ patience: -1 }), error: FitstreamInputError, argument: /patience/, fix: /integer ≥ 0/ },
  { category: 'library', name: "earlyStopping({ mode: 'maximum' })", call: () => earlyStopping({ mode: 'maximum' as 'max' }), error: FitstreamInputError, argument: /mode/, fix: /'min', 'max' or 'auto'/ },
  { category: 'library', name: 'reduceLROnPlateau({ factor: 2 })', call: () => reduceLROnPlateau({ factor: 2 }), error: FitstreamInputError, argument: /factor/, fix: /\(0, 1\)/ },
  { category: 'library', name: "modelCheckpoint({ dir: '' })", call: () => modelCheckpoint({ dir: '' }), error: FitstreamInputError, argument: /^modelCheckpoint: options\.dir/, fix: /is required/ },
  { category: 'library', name: 'modelCheckpoint with a path in its filename', call: () => modelCheckpoint({ dir: 'x', filename: 'a/{epoch}' }), error: FitstreamInputError, argument: /^filename: the checkpoint name template "a\/\{epoch\}"/, fix: /a directory name, without \// },
  { category: 'library', name: 'cosineDecay({ totalSteps: 0 })', call: () => cosineDecay({ totalSteps: 0 }), error: FitstreamInputError, argument: /^cosineDecay: totalSteps/, fix: /integer ≥ 1/ },
  { category: 'library', name: 'multiStepDecay with decreasing milestones', call: () => multiStepDecay({ milestones: [5, 3] }), error: FitstreamInputError, argument: /^multiStepDecay: milestones/, fix: /must increase/ },
  { category: 'library', name: "progressBar({ mode: 'fancy' })", call: () => progressBar({ mode: 'fancy' as 'bar' }), error: FitstreamInputError, argument: /^progressBar: mode/, fix: /'auto', 'bar' or 'lines'/ },
  { category: 'library', name: 'csvLogger with a quote as separator', call: () => csvLogger({ path: 'x.csv', separator: '"' }), error: FitstreamInputError, argument: /^csvLogger: separator/, fix: /without quotes or newlines/ },
  { category: 'library', name: 'kFold({ nSplits: 1 })', call: () => kFold({ nSplits: 1 }), error: FitstreamInputError, argument: /options\.nSplits/, fix: /≥ 2/ },
  { category: 'library', name: 'trainTestSplit with testSize 1.5', call: () => trainTestSplit(10, { testSize: 1.5 }), error: FitstreamInputError, argument: /testSize/, fix: /\(0, 1\)|fraction/ },
  { category: 'library', name: 'bootstrap(-1)', call: () => bootstrap(-1), error: FitstreamInputError, argument: /^n:/, fix: /integer/ },
  { category: 'library', name: 'l2(-1)', call: () => l2(-1), error: FitstreamInputError, argument: /l2: must be a finite number ≥ 0/, fix: /finite number ≥ 0/ },
  { category: 'library', name: 'clipGradNorm(0)', call: () => clipGradNorm(0), error: FitstreamInputError, argument: /maxNorm/, fix: /> 0/ },
  { category: 'library', name: 'labelSmoothing(1.5)', call: () => labelSmoothing(1.5), error: FitstreamInputError, argument: /epsilon/, fix: /\[0, 1\)/ },
  { category: 'library', name: 'classWeights({ 0: -1 })', call: () => classWeights({ 0: -1 }), error: FitstreamInputError, argument: /^classWeights\[0\]:/, fix: /finite number ≥ 0/ },
  { category: 'library', name: 'windows with inputLength 0', call: () => windows(100, { inputLength: 0 }), error: FitstreamInputError, argument: /inputLength/, fix: /≥ 1/ },
  { category: 'library', name: "loadIris({ cache: 3 })", call: () => loadIris({ cache: 3 as never }), error: FitstreamInputError, argument: /^options\.cache:/, fix: /true, false or a directory path/ },
  { category: 'library', name: 'stratifiedSplit of fractional labels', call: () => stratifiedSplit([0, 0.5, 1, 1], { testFraction: 0.5, seed: 1 }), error: FitstreamInputError, argument: /label/, fix: /integer/ },

  // ── YAML and JSON configuration ──────────────────────────────────────────────────────────────────────────────────
  { category: 'config', name: 'YAML that does not parse', bin: true, files: { 'c/syntax.yaml': 'recipe: iris\nepochs: [1,\n' }, args: () => ['train', 'c/syntax.yaml'], argument: /the config file c\/syntax\.yaml is not valid YAML/, fix: /line \d+/ },
  { category: 'config', name: 'an empty YAML file', files: { 'c/empty.yaml': '' }, args: () => ['train', 'c/empty.yaml'], argument: /the config file c\/empty\.yaml must hold an object/, fix: /key: value pairs such as "recipe: iris"\), got nothing \(the file is empty\)/ },
  { category: 'config', name: 'a YAML list', files: { 'c/list.yaml': '- recipe: iris\n' }, args: () => ['train', 'c/list.yaml'], argument: /the config file c\/list\.yaml must hold an object/, fix: /got a list/ },
  { category: 'config', name: 'JSON that does not parse', files: { 'c/broken.json': '{"recipe": "iris",}' }, args: () => ['train', 'c/broken.json'], argument: /the config file c\/broken\.json is not valid JSON/, fix: /position \d+/ },
  { category: 'config', name: 'a config without its recipe', files: { 'c/norecipe.yaml': 'epochs: 3\n' }, args: () => ['train', 'c/norecipe.yaml'], argument: /must name its recipe/, fix: /"recipe": one of "iris"/ },
  { category: 'config', name: 'an unknown recipe', files: { 'c/recipe.yaml': 'recipe: irs\n' }, args: () => ['train', 'c/recipe.yaml'], argument: /recipe: unknown recipe "irs"/, fix: /Available recipes: .*iris/ },
  { category: 'config', name: 'epochs: "5" (quoted)', bin: true, files: { 'c/quoted.yaml': 'recipe: iris\nepochs: "5"\n' }, args: () => ['train', 'c/quoted.yaml'], argument: /^ {2}epochs: expected number, got "5"/m, fix: /write epochs: 5 without quotes/ },
  { category: 'config', name: 'epochs: 0', files: { 'c/zero.json': '{"recipe": "iris", "epochs": 0}' }, args: () => ['train', 'c/zero.json'], argument: /^ {2}epochs:/m, fix: /must be ≥ 1, got 0/ },
  { category: 'config', name: 'a misspelt top-level key', files: { 'c/epoch.yaml': 'recipe: iris\nepoch: 5\n' }, args: () => ['train', 'c/epoch.yaml'], argument: /unknown key "epoch"/, fix: /Did you mean "epochs"\?/ },
  { category: 'config', name: 'a misspelt callback', files: { 'c/cb.yaml': 'recipe: iris\ncallbacks:\n  earlyStoping: { patience: 3 }\n' }, args: () => ['train', 'c/cb.yaml'], argument: /unknown key "callbacks\.earlyStoping"/, fix: /Did you mean "earlyStopping"\?/ },
  { category: 'config', name: 'an unknown optimizer', files: { 'c/opt.yaml': 'recipe: iris\noptimizer: adamw\n' }, args: () => ['train', 'c/opt.yaml'], argument: /optimizer: "adamw" is not allowed/, fix: /Allowed values: "sgd", .*"adam"/ },
  { category: 'config', name: 'an unknown backend', files: { 'c/backend.yaml': 'recipe: iris\nbackend: gpu\n' }, args: () => ['train', 'c/backend.yaml'], argument: /backend: "gpu" is not allowed/, fix: /Allowed values: "auto", "tensorflow-gpu"/ },
  { category: 'config', name: 'an unknown schedule type', files: { 'c/sched.yaml': 'recipe: iris\ncallbacks:\n  lrSchedule: { type: cosine }\n' }, args: () => ['train', 'c/sched.yaml'], argument: /callbacks\.lrSchedule\.type: "cosine" is not allowed/, fix: /Did you mean "cosineDecay" or "cosineRestarts"\?/ },
  { category: 'config', name: 'a schedule without its required option', files: { 'c/steps.yaml': 'recipe: iris\ncallbacks:\n  lrSchedule: { type: cosineDecay }\n' }, args: () => ['train', 'c/steps.yaml'], argument: /callbacks\.lrSchedule\.totalSteps: missing/, fix: /expected number/ },
  { category: 'config', name: 'a monitor the recipe does not log', files: { 'c/monitor.yaml': 'recipe: iris\ncallbacks:\n  earlyStopping: { monitor: val_acc }\n' }, args: () => ['train', 'c/monitor.yaml'], argument: /callbacks\.earlyStopping\.monitor: "val_acc" is not allowed/, fix: /Allowed values: .*"val_accuracy"/ },
  { category: 'config', name: 'lr: -1', files: { 'c/lr.json': '{"recipe": "iris", "lr": -1}' }, args: () => ['train', 'c/lr.json'], argument: /^ {2}lr:/m, fix: /must be > 0/ },
  { category: 'config', name: 'fit.checkData: sometimes', files: { 'c/check.yaml': 'recipe: iris\nfit: { checkData: sometimes }\n' }, args: () => ['train', 'c/check.yaml'], argument: /fit\.checkData: "sometimes" is not allowed/, fix: /"first-epoch", "always", "never"/ },
  { category: 'config', name: 'lrFinder.maxLr below minLr', files: { 'c/finder.yaml': 'recipe: iris\nlrFinder: { minLr: 1, maxLr: 0.1 }\n' }, args: () => ['lr-find', 'c/finder.yaml'], argument: /lrFinder\.maxLr/, fix: /must be > lrFinder\.minLr/ },
  { category: 'config', name: 'data.testFraction: 1.5', files: { 'c/split.yaml': 'recipe: iris\ndata: { testFraction: 1.5 }\n' }, args: () => ['train', 'c/split.yaml'], argument: /data\.testFraction/, fix: /must be < 1/ },
  { category: 'config', name: 'a model option of another recipe', files: { 'c/model.yaml': 'recipe: iris\nmodel: { filters: [8, 16] }\n' }, args: () => ['train', 'c/model.yaml'], argument: /unknown key "model\.filters"/, fix: /Allowed keys in model: hiddenUnits, activation/ },
  { category: 'config', name: 'out naming a file in the config', files: { 'c/out.yaml': 'recipe: iris\nout: c/out.yaml\n' }, args: () => ['train', 'c/out.yaml'], argument: /out \(--out or the config's "out"\): c\/out\.yaml/, fix: /is a file, not a directory; pass a directory/ },
  { category: 'config', name: 'a config file that does not exist', args: () => ['train', 'c/missing.yaml'], argument: /cannot read the config file c\/missing\.yaml/, fix: /ENOENT|no such file/ },
  { category: 'config', name: 'readConfigFile on a YAML scalar (library)', files: { 'c/scalar.yaml': 'iris\n' }, call: (f) => readConfigFile(join(f.dir, 'c/scalar.yaml')), error: ConfigError, argument: /scalar\.yaml must hold an object/, fix: /got a string/ },

  // ── CLI flags ───────────────────────────────────────────────────────────────────────────────────────────────────
  { category: 'flags', name: 'train without a recipe', args: () => ['train'], argument: /missing required argument 'recipe\|config'/, fix: /--help/ },
  { category: 'flags', name: 'an unknown recipe', args: () => ['train', 'irsi'], argument: /unknown recipe "irsi"/, fix: /Available recipes: .*iris.*Or pass a config file/ },
  { category: 'flags', name: 'a misspelt command', args: () => ['trian', 'iris'], argument: /unknown command 'trian'/, fix: /Did you mean train\?/ },
  { category: 'flags', name: 'a misspelt flag', bin: true, args: () => ['train', 'iris', '--epoch', '3'], argument: /unknown option '--epoch'/, fix: /Did you mean --epochs\?/ },
  { category: 'flags', name: '--epochs 0', args: () => ['train', 'iris', '--epochs', '0'], argument: /--epochs/, fix: /whole number ≥ 1/ },
  { category: 'flags', name: '--epochs five', args: () => ['train', 'iris', '--epochs', 'five'], argument: /--epochs/, fix: /whole number ≥ 1/ },
  { category: 'flags', name: '--epochs without a value', args: () => ['train', 'iris', '--epochs'], argument: /option '--epochs <n>' argument missing/, fix: /--help/ },
  { category: 'flags', name: '--batch-size 2.5', args: () => ['train', 'iris', '--batch-size', '2.5'], argument: /--batch-size/, fix: /whole number ≥ 1/ },
  { category: 'flags', name: '--lr 0', args: () => ['train', 'iris', '--lr', '0'], argument: /--lr/, fix: /a number > 0, e\.g\. 0\.01/ },
  { category: 'flags', name: '--lr abc', args: () => ['train', 'iris', '--lr', 'abc'], argument: /--lr/, fix: /a number > 0, e\.g\. 0\.01/ },
  { category: 'flags', name: '--seed 1.5', args: () => ['train', 'iris', '--seed', '1.5'], argument: /--seed/, fix: /an integer, e\.g\. 42/ },
  { category: 'flags', name: '--backend gpu', args: () => ['train', 'iris', '--backend', 'gpu'], argument: /--backend <name>' argument 'gpu' is invalid/, fix: /Allowed choices are auto, tensorflow-gpu/ },
  { category: 'flags', name: '--optimizer adamw', bin: true, args: () => ['train', 'iris', '--optimizer', 'adamw'], argument: /--optimizer <name>' argument 'adamw' is invalid/, fix: /Allowed choices are sgd, momentum, adam/ },
  { category: 'flags', name: '--fast-dev-run 0', args: () => ['train', 'iris', '--fast-dev-run', '0'], argument: /--fast-dev-run/, fix: /whole number ≥ 1/ },
  { category: 'flags', name: '--out naming a file', bin: true, files: { 'a-file': 'x' }, args: () => ['train', 'iris', '--out', 'a-file'], argument: /out \(--out or the config's "out"\): a-file/, fix: /is a file, not a directory; pass a directory that can be created and written/ },
  { category: 'flags', name: '--out below a file', files: { 'a-file': 'x' }, args: () => ['train', 'iris', '--out', 'a-file/runs'], argument: /out \(--out or the config's "out"\): a-file\/runs/, fix: /a-file is a file, not a directory/ },
  { category: 'flags', name: '--out in /proc (used to hang)', bin: true, args: () => ['train', 'iris', '--out', '/proc/fitstream-runs'], argument: /out \(--out or the config's "out"\): \/proc\/fitstream-runs/, fix: /cannot create \/proc\/fitstream-runs .*; pass a directory/ },
  { category: 'flags', name: "--out naming a run's config.json", bin: true, args: (f) => ['train', 'iris', '--out', join(f.run, 'config.json')], argument: /out \(--out or the config's "out"\): .*config\.json/, fix: /is a file, not a directory/ },
  { category: 'flags', name: 'a misspelt dotted flag', args: () => ['train', 'iris', '--callbacks.earlyStoping.patience', '5'], argument: /unknown key "callbacks\.earlyStoping"/, fix: /Did you mean "earlyStopping"\?/ },
  { category: 'flags', name: 'a dotted flag with a word for a number', args: () => ['train', 'mnist', '--data.subset', 'all'], argument: /data\.subset: expected number, got "all"/, fix: /expected number/ },
  { category: 'flags', name: 'a dotted flag into __proto__', args: () => ['train', 'iris', '--__proto__.epochs', '0'], argument: /unknown key "__proto__"/, fix: /Allowed keys: recipe, seed/ },
  { category: 'config', name: 'a __proto__ key in a JSON config', files: { 'c/proto.json': '{"recipe": "iris", "__proto__": {"epochs": 0}}' }, args: () => ['train', 'c/proto.json'], argument: /unknown key "__proto__"/, fix: /Allowed keys: recipe, seed/ },
  { category: 'flags', name: 'a dotted flag on evaluate', args: (f) => ['evaluate', f.run, '--data.subset', '3'], argument: /configuration flags \(--data\.subset\)/, fix: /apply to train, cv and lr-find only/ },
  { category: 'flags', name: 'cv on an experiment recipe', args: () => ['cv', 'births'], argument: /`fitstream cv` does not apply to the births recipe/, fix: /run it with `fitstream train births`/ },
  { category: 'flags', name: 'cv --folds 1', args: () => ['cv', 'iris', '--folds', '1'], argument: /cv\.folds/, fix: /must be ≥ 2/ },
  { category: 'flags', name: 'launch --nproc-per-node 0', args: () => ['launch', '--nproc-per-node', '0', 'x.mjs'], argument: /--nproc-per-node/, fix: /whole number ≥ 1/ },
  { category: 'flags', name: 'launch --node-rank x (was NaN)', args: () => ['launch', '--node-rank', 'x', 'x.mjs'], argument: /--node-rank/, fix: /whole number ≥ 0/ },
  { category: 'flags', name: 'launch --max-restarts -1 (was NaN)', args: () => ['launch', '--max-restarts=-1', 'x.mjs'], argument: /--max-restarts/, fix: /whole number ≥ 0/ },
  { category: 'flags', name: 'launch --master-port 70000', args: () => ['launch', '--master-port', '70000', 'x.mjs'], argument: /--master-port/, fix: /\[1, 65535\], e\.g\. 29500/ },
  { category: 'flags', name: 'launch --node-rank beyond --nnodes', bin: true, args: () => ['launch', '--nnodes', '2', '--node-rank', '5', 'x.mjs'], argument: /nodeRank/, fix: /must be in \[0, 1\]/ },

  // ── data files (predict, evaluate --data) ────────────────────────────────────────────────────────────────────────
  { category: 'data', name: 'CSV with unknown columns', files: { 'd/cols.csv': 'a,b\n1,2\n' }, args: (f) => ['predict', f.run, 'd/cols.csv'], argument: /d\/cols\.csv: no column "sepal length"/, fix: /Columns needed: sepal length, sepal width, petal length, petal width/ },
  { category: 'data', name: 'CSV rows with too few values', files: { 'd/short.csv': '1,2,3\n' }, args: (f) => ['predict', f.run, 'd/short.csv'], argument: /d\/short\.csv: rows have 3 columns/, fix: /expected 4 features/ },
  { category: 'data', name: 'CSV with a word in a row (was a raw tfjs error)', bin: true, files: { 'd/word.csv': '1,2,x,4\n5,6,7,8\n' }, args: (f) => ['predict', f.run, 'd/word.csv'], argument: /d\/word\.csv line 1 column 3/, fix: /"x" is not a number/ },
  { category: 'data', name: 'CSV with a header and no rows', files: { 'd/header.csv': `${IRIS_HEADER}\n` }, args: (f) => ['predict', f.run, 'd/header.csv'], argument: /d\/header\.csv: has a header line/, fix: /add one row of features per line/ },
  { category: 'data', name: 'an empty CSV', files: { 'd/empty.csv': '\n\n' }, args: (f) => ['predict', f.run, 'd/empty.csv'], argument: /d\/empty\.csv is empty/, fix: /empty/ },
  { category: 'data', name: 'an input file that does not exist', args: (f) => ['predict', f.run, 'd/missing.csv'], argument: /cannot read d\/missing\.csv/, fix: /ENOENT/ },
  { category: 'data', name: 'JSON that is not rows', files: { 'd/rows.json': '{"rows": 5}' }, args: (f) => ['predict', f.run, 'd/rows.json'], argument: /d\/rows\.json: expected a non-empty array of rows/, fix: /arrays of numbers, or objects keyed by sepal length/ },
  { category: 'data', name: 'JSON that does not parse', files: { 'd/broken.json': '[[1, 2,' }, args: (f) => ['predict', f.run, 'd/broken.json'], argument: /d\/broken\.json is not valid JSON/, fix: /JSON/ },
  { category: 'data', name: 'a JSON row of the wrong length', files: { 'd/len.json': '[[1, 2, 3, 4, 0, 9]]' }, args: (f) => ['predict', f.run, 'd/len.json'], argument: /d\/len\.json row 1: has 6 values/, fix: /expected 4 features \(optionally followed by the species\)/ },
  { category: 'data', name: 'an unknown class name in evaluate --data', files: { 'd/label.csv': `${IRIS_HEADER},species\n5.1,3.5,1.4,0.2,dog\n` }, args: (f) => ['evaluate', f.run, '--data', 'd/label.csv'], argument: /d\/label\.csv line 2 species/, fix: /not a number or a class name \(setosa, versicolor, virginica\)/ },

  // ── checkpoints and run directories ──────────────────────────────────────────────────────────────────────────────
  { category: 'checkpoint', name: 'resume a directory that is no run', args: () => ['resume', 'no-such-run'], argument: /no-such-run is not a fitstream run directory/, fix: /config\.json is missing/ },
  { category: 'checkpoint', name: 'resume a file', args: (f) => ['resume', join(f.run, 'metrics.csv')], argument: /metrics\.csv is not a fitstream run directory/, fix: /config\.json is missing/ },
  { category: 'checkpoint', name: 'evaluate a directory that is no run', args: () => ['evaluate', 'no-such-run'], argument: /no-such-run is not a fitstream run directory/, fix: /config\.json is missing/ },
  { category: 'checkpoint', name: 'report a directory that is no run', args: () => ['report', 'no-such-run'], argument: /no-such-run is not a fitstream run directory/, fix: /config\.json is missing/ },
  { category: 'checkpoint', name: 'resume a finished run', bin: true, args: (f) => ['resume', f.run], exit: EXIT.failure, argument: /nothing to resume in .*: the run finished/, fix: /--from/ },
  { category: 'checkpoint', name: "a run whose config.json has a quoted number", files: { 'r/quoted/config.json': '{"recipe": "iris", "epochs": "5"}' }, args: () => ['evaluate', 'r/quoted'], argument: /epochs: expected number, got "5"/, fix: /without quotes/ },
  { category: 'checkpoint', name: 'resume from a backup whose weights were damaged', bin: true, args: (f) => ['resume', join(f.dir, 'corrupt', 'weights')], exit: EXIT.failure, argument: /backup is corrupt: weights\.bin does not match its checksum/, fix: /Resume from an earlier checkpoint, or delete this one/ },
  { category: 'checkpoint', name: 'resume from a backup whose state.json is torn', args: (f) => ['resume', join(f.dir, 'corrupt', 'state')], exit: EXIT.failure, argument: /backup is corrupt: state\.json is not valid JSON/, fix: /Resume from an earlier checkpoint, or delete this one/ },
  { category: 'checkpoint', name: 'readCheckpoint of a path with no checkpoint', call: (f) => readCheckpoint(join(f.dir, 'nothing-here')), error: Error, argument: /No checkpoint at .*nothing-here/, fix: /expected a checkpoint directory \(with state\.json\)/ },
  { category: 'checkpoint', name: 'an empty files map (was a toString TypeError)', call: async (f) => readCheckpoint(await editedCheckpoint(f, 'empty-files', (s) => (s['files'] = {}))), error: CheckpointCorruptError, argument: /model\.json is not listed in state\.json/, fix: /Resume from an earlier checkpoint, or delete this one/ },
  { category: 'checkpoint', name: 'files is not a map', call: async (f) => readCheckpoint(await editedCheckpoint(f, 'files-list', (s) => (s['files'] = ['model.json']))), error: CheckpointCorruptError, argument: /state\.json has no valid "files" map/, fix: /Resume from an earlier checkpoint/ },
  { category: 'checkpoint', name: 'a listed path outside the checkpoint', call: async (f) => readCheckpoint(await editedCheckpoint(f, 'escape', (s) => ((s['files'] as Record<string, string>)['../x'] = 'ab'))), error: CheckpointCorruptError, argument: /\.\.\/x is not a relative path inside the checkpoint/, fix: /delete this one/ },
  { category: 'checkpoint', name: 'state.json edited without its checksum', call: async (f) => readCheckpoint(await editedCheckpoint(f, 'edited', (s) => (s['step'] = 99), false)), error: CheckpointCorruptError, argument: /state\.json does not match its own checksum/, fix: /Resume from an earlier checkpoint/ },
  { category: 'checkpoint', name: 'a truncated weights.bin', call: async (f) => readCheckpoint(await damagedCheckpoint(f, 'truncated', (dir) => writeFile(join(dir, 'weights.bin'), 'xx'))), error: CheckpointCorruptError, argument: /weights\.bin does not match its checksum/, fix: /Resume from an earlier checkpoint/ },
  { category: 'checkpoint', name: 'a missing optimizer.bin', call: async (f) => readCheckpoint(await damagedCheckpoint(f, 'missing', (dir) => rm(join(dir, 'optimizer.bin')))), error: CheckpointCorruptError, argument: /optimizer\.bin is missing/, fix: /Resume from an earlier checkpoint/ },
  { category: 'checkpoint', name: 'another format in state.json', call: async (f) => readCheckpoint(await editedCheckpoint(f, 'format', (s) => (s['format'] = 'keras'))), error: Error, argument: /state\.json is not a fitstream checkpoint of version 1/, fix: /format keras/ },
  {
    category: 'checkpoint',
    name: 'trainer.resume from a damaged checkpoint',
    call: async (f) => {
      const dir = await damagedCheckpoint(f, 'resume', (d) => writeFile(join(d, 'model.json'), '{}'));
      const t = createTrainer({ model: irisModel(), optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', seed: 1, backend: 'current', log: null });
      return t.resume(dir, { x: tf.ones([4, 4]), y: tf.tensor1d([0, 1, 2, 0]) }, fit);
    },
    error: CheckpointCorruptError,
    argument: /model\.json does not match its checksum/,
    fix: /Resume from an earlier checkpoint/,
  },
];

/** The iris recipe's network shape (4 → 16 → 3), for resuming its checkpoint. */
function irisModel(): tf.Sequential {
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [4], units: 16, activation: 'relu' }));
  model.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
  return model;
}

/** sha256 of every file under `root` (relative path → digest). */
async function hashTree(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else out.set(relative(root, path), createHash('sha256').update(await readFile(path)).digest('hex'));
    }
  };
  await walk(root);
  return out;
}

/** Runs `tasks` with at most `limit` at a time (the CLI rows spawn node; the machine has 2 cores). */
function limiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
const spawnSlot = limiter(3);

async function writeFiles(row: Row): Promise<void> {
  for (const [path, text] of Object.entries(row.files ?? {})) {
    await mkdir(join(sandbox.dir, path, '..'), { recursive: true });
    await writeFile(join(sandbox.dir, path), text);
  }
}

/** `fitstream <args>` through `main()` in this process, in the sandbox (what the bin runs, without starting node). */
async function runMain(args: readonly string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const cwd = process.cwd();
  process.chdir(sandbox.dir);
  try {
    const code = await main(args, { out: (text) => void (stdout += `${text}\n`), err: (text) => void (stderr += `${text}\n`) });
    return { code, stdout, stderr };
  } finally {
    process.chdir(cwd);
  }
}

/** The directories whose files must not change: both runs, and the damaged copies the rows read. */
const guarded = (f: Fixtures) => [f.run, f.backupRun, join(f.dir, 'corrupt')];

beforeAll(async () => {
  await sandbox.create();
  process.env['FITSTREAM_CACHE_DIR'] = join(sandbox.dir, 'cache'); // for the rows that run main() here
  await selectBackend({ prefer: 'cpu', log: null });
  const [a, b] = await Promise.all([
    sandbox.run('train', 'iris', '--fast-dev-run', '--out', 'runs', '--json'),
    sandbox.run('train', 'iris', '--fast-dev-run', '--out', 'backup-runs', '--json', '--callbacks.backupAndRestore.deleteOnFinish', 'false'),
  ]);
  const run = parseSummary(a).runDir;
  const backupRun = parseSummary(b).runDir;
  const dir = sandbox.dir;
  const checkpoints = join(run, 'checkpoints');
  const checkpoint = join(dir, 'checkpoint');
  await cp(join(checkpoints, (await readdir(checkpoints, { withFileTypes: true })).find((d) => d.isDirectory())!.name), checkpoint, { recursive: true });
  for (const [name, damage] of [
    ['weights', (d: string) => writeFile(join(d, 'backup', 'backup', 'weights.bin'), 'damaged')],
    ['state', (d: string) => writeFile(join(d, 'backup', 'backup', 'state.json'), '{"format": "fitstream-checkpoint", ')],
  ] as const) {
    await cp(backupRun, join(dir, 'corrupt', name), { recursive: true });
    await damage(join(dir, 'corrupt', name));
  }
  await mkdir(join(dir, 'library-checkpoints'), { recursive: true });
  fixtures = { dir, run, backupRun, checkpoint };
  before = new Map((await Promise.all(guarded(fixtures).map(hashTree))).flatMap((m, i) => [...m].map(([k, v]) => [`${i}/${k}`, v] as const)));
  expect(before.size).toBeGreaterThan(20);
}, 90_000);

afterAll(() => sandbox.remove());

describe('bad input: the documented error, naming the argument and the fix', () => {
  it('the table holds at least 80 rows in every category', () => {
    const counts = Object.fromEntries(['library', 'config', 'flags', 'data', 'checkpoint'].map((c) => [c, ROWS.filter((r) => r.category === c).length]));
    expect(ROWS.length).toBeGreaterThanOrEqual(80);
    for (const count of Object.values(counts)) expect(count).toBeGreaterThanOrEqual(8);
    expect(new Set(ROWS.map((r) => `${r.category}: ${r.name}`)).size, 'row names are unique').toBe(ROWS.length);
  });

  const library = ROWS.filter((r) => r.call);
  it.each(library.map((r) => [`${r.category}: ${r.name}`, r] as const))('%s', async (_, row) => {
    await writeFiles(row);
    const error = await (async () => row.call!(fixtures))().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error, 'it throws').toBeInstanceOf(row.error ?? FitstreamInputError);
    const message = (error as Error).message;
    expect(message).toMatch(row.argument);
    expect(message).toMatch(row.fix);
    expect(error, 'never a raw TypeError or RangeError').not.toBeInstanceOf(TypeError);
    expect(error).not.toBeInstanceOf(RangeError);
  });

  const check = (row: Row, run: Run) => {
    expect(run.code, run.stderr).toBe(row.exit ?? EXIT.usage);
    expect(run.stdout, 'nothing on stdout').toBe('');
    // TensorFlow's own two load lines (absl, oneDNN) precede ours on the native backend; they cannot be silenced.
    const problem = run.stderr
      .split('\n')
      .filter((l) => !/^fitstream: backend /.test(l) && !/^WARNING: All log messages before absl::InitializeLog\(\)/.test(l) && !/^[IWE]\d{4} [\d:. ]+\d+ \S+\.cc:\d+\]/.test(l))
      .join('\n');
    expect(problem).toMatch(/^(fitstream|error): /);
    expect(problem).toMatch(row.argument);
    expect(problem).toMatch(row.fix);
    expect(problem, 'no stack trace').not.toMatch(/^\s+at /m);
  };

  it.each(ROWS.filter((r) => r.args && !r.bin).map((r) => [`${r.category}: fitstream ${r.name}`, r] as const))('%s', async (_, row) => {
    await writeFiles(row);
    check(row, await runMain(row.args!(fixtures)));
  });

  it.concurrent.each(ROWS.filter((r) => r.bin).map((r) => [`${r.category}: fitstream ${r.name} (the bin)`, r] as const))('%s', async (_, row) => {
    await writeFiles(row);
    check(row, await spawnSlot(() => sandbox.run(...row.args!(fixtures))));
  });
});

describe('what bad input leaves behind', () => {
  it('no run directory, checkpoint or log that existed before changed', async () => {
    const after = new Map((await Promise.all(guarded(fixtures).map(hashTree))).flatMap((m, i) => [...m].map(([k, v]) => [`${i}/${k}`, v] as const)));
    expect(after).toEqual(before);
  });

  it('and no run directory was created for a refused run', async () => {
    expect((await readdir(join(sandbox.dir, 'runs'))).length).toBe(1);
    await expect(readdir(join(sandbox.dir, 'a-file', 'runs'))).rejects.toThrow();
  });
});

describe('every configuration key can be set from the command line', () => {
  it('top-level keys have a named flag; sections take dotted flags (--callbacks.earlyStopping.patience 5)', async () => {
    const program = createProgram({ out: () => undefined, err: () => undefined }, () => undefined);
    const train = program.commands.find((c) => c.name() === 'train')!;
    const flags = new Set(train.options.map((o) => o.attributeName()));
    for (const entry of RECIPES.values()) {
      const recipe = await entry.load();
      const shape = (recipe.schema as unknown as { shape: Record<string, { def?: { type?: string; innerType?: unknown } }> }).shape;
      for (const [key, node] of Object.entries(shape)) {
        const section = node.def?.type === 'object';
        expect(section || key === 'recipe' || flags.has(key), `${recipe.name}: "${key}" has no flag`).toBe(true);
      }
    }
    expect(flags).toContain('optimizer');
  });
});
