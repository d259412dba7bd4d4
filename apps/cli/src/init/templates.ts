// The files of the starter project `fitstream init` writes. data.csv is generated (src/init/iris-csv.ts); the others
// are fixed text. src/init/init.test.ts trains the project as written, so every file here must keep working with `fit`.

/** A file of the starter project. */
export interface StarterFile {
  readonly path: string;
  /** One line on what the file is for. */
  readonly about: string;
  /** The content; empty for data.csv, which is generated. */
  readonly text: string;
}

const CONFIG = `# fitstream.yaml — what \`npx fitstream fit\` trains. Any key can be set from the command line too:
# npx fitstream fit --epochs 20 --lr 0.003 --model.with.hidden '[32, 16]'
# Every key, resolved: npx fitstream fit --print-config

# What trains this file: fitstream fit (so that a sweep file's base: fitstream.yaml knows it too).
recipe: fit

# The model: a TypeScript module (run without a build step) whose default export builds a tf.layers model.
# \`with\` is handed to it as its first argument. A tfjs model.json or a Keras .keras file work here too.
model:
  path: model.ts
  with:
    hidden: [16]
    dropout: 0

# The data: a CSV with a header. Each column has a role: the target to predict, and the features (by default, every
# column that has no other role). Text columns are one-hot encoded, numbers standardised with the training split's
# statistics. To load data from code instead, set path: load-data.ts (see that file).
data:
  path: data.csv
  columns:
    target: species
  task: classification
  split:
    validation: 0.2

seed: 42
epochs: 60
batchSize: 16
optimizer: adam
lr: 0.01

# Plugins from @fitstream/callbacks, @fitstream/regularisers and @fitstream/samplers, with their options.
callbacks:
  - use: earlyStopping
    with:
      monitor: val_loss
      patience: 10
      restoreBestWeights: true
`;

const MODEL = `// model.ts — the model \`npx fitstream fit\` trains (fitstream.yaml: model.path). fitstream imports this file (no build
// step) and calls its default export with \`model.with\` from fitstream.yaml and what the data needs: the shape of one
// sample and the number of output units. The initial weights are seeded by the run's seed.
import type * as tfjs from '@tensorflow/tfjs';

/** fitstream.yaml's model.with. */
interface Options {
  /** Units of each hidden layer. */
  readonly hidden?: readonly number[];
  /** Dropout after each hidden layer (0: none). */
  readonly dropout?: number;
}

/** What fitstream passes besides the options. */
interface Context {
  /** One sample's shape without the batch axis: [number of features] for a table. */
  readonly inputShape: readonly number[];
  /** The number of classes (classification) or of targets (regression). */
  readonly outputUnits: number;
  readonly task: 'classification' | 'regression';
  readonly seed: number;
  /** fitstream's TensorFlow.js: build the model with it. */
  readonly tf: typeof tfjs;
}

export default function buildModel(options: Options, { inputShape, outputUnits, task, tf }: Context): tfjs.LayersModel {
  const model = tf.sequential();
  (options.hidden ?? [16]).forEach((units, i) => {
    model.add(tf.layers.dense({ units, activation: 'relu', ...(i === 0 ? { inputShape: [...inputShape] } : {}) }));
    if (options.dropout) model.add(tf.layers.dropout({ rate: options.dropout }));
  });
  if (model.layers.length === 0) model.add(tf.layers.inputLayer({ inputShape: [...inputShape] }));
  // A classifier ends in a softmax over the classes; a regression in one linear unit per target.
  model.add(tf.layers.dense({ units: outputUnits, activation: task === 'classification' ? 'softmax' : 'linear' }));
  return model;
}
`;

const LOAD_DATA = `// load-data.ts — loading the data from code instead of a file. Not used by default: to use it, set
//   data:
//     path: load-data.ts
// in fitstream.yaml (or run npx fitstream fit --data load-data.ts). fitstream imports this file (no build step) and
// calls its default export; it returns { x, y } (tensors, nested number arrays or typed arrays: x one row per sample,
// y one class index or value per sample), a finite tf.data.Dataset of { xs, ys }, or { train, validation } of those
// to choose the split yourself. Without \`validation\`, fitstream splits it (data.split) with the run's seed.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

interface Context {
  /** The run's seed: derive any randomness from it. */
  readonly seed: number;
  /** The directory fitstream runs in. */
  readonly cwd: string;
  /** fitstream.yaml's data.options. */
  readonly options: Readonly<Record<string, unknown>>;
}

export default async function loadData({ cwd }: Context): Promise<{ x: number[][]; y: number[] }> {
  // Here: data.csv, read by hand — its fields hold no quoted commas. A database query, an HTTP API or another file
  // format go here the same way.
  const [, ...rows] = (await readFile(join(cwd, 'data.csv'), 'utf8')).trim().split('\\n');
  const species: string[] = [];
  const x: number[][] = [];
  const y: number[] = [];
  for (const row of rows) {
    const cells = row.split(',');
    const name = cells.pop()!.replace(/"/g, '');
    if (!species.includes(name)) species.push(name);
    x.push(cells.map(Number));
    y.push(species.indexOf(name));
  }
  return { x, y };
}
`;

const README = `# A fitstream project

Made by \`fitstream init\`. It trains a small neural network on Fisher's Iris data (150 flowers, three species) with
[fitstream](https://github.com/fitstream/fitstream) and TensorFlow.js — replace the data and the model with your own.

| file | what it is |
| --- | --- |
| \`fitstream.yaml\` | the configuration \`fitstream fit\` reads: the model, the data and its column roles, the task, optimizer, epochs, callbacks |
| \`model.ts\` | a function that builds the model (a \`tf.layers\` model) from \`model.with\` and the data's shape; TypeScript, no build step |
| \`data.csv\` | the data: four measurements in centimetres and the species, one flower a row |
| \`load-data.ts\` | how to load the data from code instead of a file (not used by default: set \`data.path: load-data.ts\`) |
| \`.gitignore\` | keeps \`runs/\` out of git |

## Train

\`\`\`sh
npx fitstream fit                      # trains as fitstream.yaml says; writes runs/<name>-<timestamp>/
npx fitstream fit --epochs 20 --lr 0.003
npx fitstream fit --print-config       # every setting, resolved
\`\`\`

Each run writes a directory under \`runs/\`: \`config.json\` (what ran), \`events.jsonl\`, \`metrics.csv\`, checkpoints,
TensorBoard files (\`tensorboard --logdir runs/<run>/tensorboard\`), the trained model in \`model/\` and \`report.html\`
(open it in a browser).

## Your own data and model

- **Data**: point \`data.path\` at your CSV (or TSV, JSON Lines, \`.npy\`/\`.npz\`, an image folder) and name the target
  column in \`data.columns.target\`. \`;\`-separated files and quoted fields are read as they are; missing values are an
  error naming the row and column unless \`data.onMissing\` says what to do (\`drop-rows\`, \`mean\`, \`median\`,
  \`most-frequent\`). Or load it from code: \`load-data.ts\`.
- **Model**: edit \`model.ts\`, or set \`model.path\` to a tfjs \`model.json\` or a Keras \`.keras\` file.
- From the command line, without editing the file: \`npx fitstream fit --model model.json --data data.csv --target label\`.

## After training

\`\`\`sh
npx fitstream resume runs/<run>                  # continue a run stopped with Ctrl-C (or killed) at the exact batch
npx fitstream evaluate runs/<run>                # loss, accuracy and confusion matrix on the validation split
npx fitstream predict runs/<run> new-rows.csv    # predictions for rows of features (CSV on stdout)
npx fitstream report runs/<run>                  # regenerate report.html
\`\`\`

## Search hyper-parameters

\`\`\`yaml
# sweep.yaml — npx fitstream sweep sweep.yaml
base: fitstream.yaml
space:
  lr: { log: [0.001, 0.1] }
  batchSize: { choice: [8, 16, 32] }
  model.with.dropout: { uniform: [0, 0.3] }
trials: 12
pruner: median
objective: { metric: val_loss }
\`\`\`

\`npx fitstream sweep sweep.yaml\` runs the trials in parallel, stops unpromising ones early and writes \`sweep.html\`.

\`npx fitstream doctor\` tells which TensorFlow.js backends work on this machine; \`npx fitstream --help\` lists every command.
`;

const GITIGNORE = `# fitstream's run directories (checkpoints, logs, reports)
runs/
node_modules/
`;

/** The starter project, in the order `fitstream init` writes and lists it. */
export const STARTER_FILES: readonly StarterFile[] = [
  { path: 'fitstream.yaml', about: 'the fit configuration: model, data and column roles, task, optimizer, epochs, callbacks', text: CONFIG },
  { path: 'model.ts', about: 'builds the model from model.with and the data shape (TypeScript, no build step)', text: MODEL },
  { path: 'data.csv', about: "Fisher's Iris data: 150 rows, four measurements and the species", text: '' },
  { path: 'load-data.ts', about: 'loading the data from code instead (not used by default)', text: LOAD_DATA },
  { path: 'README.md', about: 'what each file is, and how to train, resume, evaluate, predict and sweep', text: README },
  { path: '.gitignore', about: 'keeps runs/ out of git', text: GITIGNORE },
];
