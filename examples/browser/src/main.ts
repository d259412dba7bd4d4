/**
 * The page: pictures (drawn, uploaded, or generated from a seed), training with `@fitstream/core` on the backend of
 * your choice, a backup to IndexedDB after every epoch, and resume after a reload. `?demo=1` trains on generated
 * pictures without a person; `window.__fitstream` reports how it goes (see app-status.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { backupAndRestore } from '@fitstream/callbacks';
import { appStatus, type AppStatus } from './app-status.js';
import { BACKEND_CHOICES, startBackend } from './backend.js';
import { button, classPads, drawingPad, pictureOf, thumbnail } from './draw-pads.js';
import { pageParams, type PageParams } from './page-params.js';
import { loadPictures, savePictures, toBytes, toSamples, type Picture, type RunSettings } from './sample-store.js';
import { CLASSES, demoShapes, SIZE, type Samples } from './shapes.js';
import { BACKUP_DIR, trainShapes } from './train.js';
import './style.css';

const status = appStatus();
const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const logElement = element<HTMLPreElement>('log');

function log(line: string): void {
  console.info(line);
  logElement.textContent += `${line}\n`;
}

function describe(s: AppStatus): string {
  switch (s.phase) {
    case 'idle':
      return 'Add pictures of each shape, then train.';
    case 'starting':
      return 'Starting the backend…';
    case 'training':
      return `Training on ${s.backend ?? '?'}: epoch ${s.epoch} of ${s.epochs ?? '?'}, step ${s.step}${s.resumedFrom ? ` (resumed from the backup of epoch ${s.initialEpoch ?? 0})` : ''}.`;
    case 'done':
      return (
        `Done on ${s.backend ?? '?'} after ${s.epoch} epochs (${s.stopReason ?? s.endReason ?? ''}): validation accuracy ` +
        `${((s.validationAccuracy ?? 0) * 100).toFixed(1)} % on ${s.validationSamples} pictures, ${s.stepsPerSecond} steps/s, ` +
        `weights ${s.checksum?.sha256.slice(0, 12) ?? ''}…`
      );
    case 'error':
      return `Failed: ${s.error ?? 'unknown error'}`;
  }
}

function render(): void {
  element('status').textContent = describe(status);
  const fixed = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '–');
  element('epochs-table').querySelector('tbody')!.replaceChildren(
    ...status.rows.map((r) => {
      const tr = document.createElement('tr');
      for (const v of [String(r.epoch), fixed(r.loss), fixed(r.accuracy), fixed(r.valLoss), fixed(r.valAccuracy)]) tr.insertCell().textContent = v;
      return tr;
    }),
  );
  const confusion = element('confusion');
  if (!status.confusion) return confusion.replaceChildren();
  const table = document.createElement('table');
  table.createCaption().textContent = 'Final weights on the validation pictures (rows: drawn, columns: predicted)';
  const head = table.createTHead().insertRow();
  for (const c of ['', ...CLASSES]) head.insertCell().textContent = c;
  status.confusion.forEach((row, i) => {
    const tr = table.insertRow();
    tr.insertCell().textContent = CLASSES[i]!;
    row.forEach((v, j) => {
      const cell = tr.insertCell();
      cell.textContent = String(v);
      if (i === j) cell.className = 'diagonal';
    });
  });
  confusion.replaceChildren(table);
}

let model: tf.LayersModel | undefined;

/** Starts the backend and trains; a failure is shown on the page, reported on `window.__fitstream` and logged. */
async function run(samples: Samples, settings: RunSettings & { backend: PageParams['backend'] }): Promise<void> {
  Object.assign(status, { phase: 'starting', seed: settings.seed, epochs: settings.epochs, epoch: 0, step: 0, rows: [] } satisfies Partial<AppStatus>);
  render();
  try {
    const selection = await startBackend(settings.backend, log);
    status.backend = selection.backend;
    status.backendMessage = selection.message;
    model?.dispose();
    model = undefined;
    model = await trainShapes({ samples, seed: settings.seed, epochs: settings.epochs, backupDir: settings.backupDir, dashboard: element('dashboard'), onUpdate: render, log });
    element('try').hidden = false;
  } catch (error) {
    status.phase = 'error';
    status.error = error instanceof Error ? error.message : String(error);
    console.error(error);
  }
  render();
}

/** The "try it" pad: draw a shape, read the model's guess. */
function tryPad(): void {
  const pad = drawingPad();
  const guess = document.createElement('p');
  const predict = () => {
    if (!model) return;
    const picture = pictureOf(pad.canvas, -1);
    const probabilities = tf.tidy(() => (model!.predict(tf.tensor4d(toSamples([picture]).pixels, [1, SIZE, SIZE, 1])) as tf.Tensor).dataSync());
    guess.textContent = CLASSES.map((c, i) => `${c} ${(probabilities[i]! * 100).toFixed(0)} %`).join(' · ');
  };
  pad.canvas.addEventListener('pointerup', predict);
  element('try-pad').append(pad.canvas, button('Clear', () => (pad.clear(), (guess.textContent = ''))), guess);
}

/** Shows the address's settings in the form; in the demo they come from the address alone. */
function controls(params: PageParams): void {
  const select = element<HTMLSelectElement>('backend');
  select.append(...BACKEND_CHOICES.map((b) => new Option(b, b, b === params.backend, b === params.backend)));
  element<HTMLInputElement>('epochs').value = String(params.epochs);
  element<HTMLInputElement>('seed').value = String(params.seed);
  if (params.demo) {
    for (const id of ['backend', 'epochs', 'seed', 'train']) element<HTMLInputElement>(id).disabled = true;
  }
}

/** `?demo=1`: generated pictures, training at once. */
async function demo(params: PageParams): Promise<void> {
  const samples = demoShapes(params.seed, params.perClass);
  const thumbs = document.createElement('div');
  thumbs.className = 'thumbs demo';
  for (let label = 0; label < CLASSES.length; label++) {
    for (let j = 0; j < 8; j++) thumbs.append(thumbnail({ bytes: toBytes(samples.pixels, (label * params.perClass + j) * SIZE * SIZE), label }));
  }
  element('pads').replaceChildren(thumbs);
  element('add-demo').hidden = true;
  element('clear-samples').hidden = true;
  log(`demo: ${samples.labels.length} generated pictures (seed ${params.seed})`);
  await run(samples, { ...params, backupDir: BACKUP_DIR });
}

/** A person's session: pads, uploads, and a resume button when an interrupted run's backup is in IndexedDB. */
async function interactive(params: PageParams): Promise<void> {
  const stored = loadPictures();
  let pictures: Picture[] = stored.pictures;
  // New pictures make a new dataset: the interrupted run (trained on the old one) can no longer be resumed.
  const changed = (next: Picture[]) => {
    pictures = next;
    savePictures(pictures);
    pads.render(pictures);
    element('resume').hidden = true;
  };
  const pads = classPads(element('pads'), (added) => changed([...pictures, ...added]));
  pads.render(pictures);
  let generated = 0;
  element('add-demo').addEventListener('click', () => {
    const extra = demoShapes(params.seed + 1000 + generated++, 30);
    changed([...pictures, ...Array.from(extra.labels, (label, i) => ({ bytes: toBytes(extra.pixels, i * SIZE * SIZE), label }))]);
  });
  element('clear-samples').addEventListener('click', () => changed([]));
  const select = element<HTMLSelectElement>('backend');
  // Each run a person starts backs up to its own location, so that a new run never resumes an abandoned one.
  const settings = (): RunSettings & { backend: PageParams['backend'] } => ({
    seed: Number(element<HTMLInputElement>('seed').value),
    epochs: Number(element<HTMLInputElement>('epochs').value),
    backend: select.value as PageParams['backend'],
    backupDir: `${BACKUP_DIR}-${Date.now().toString(36)}`,
  });
  const start = (s: RunSettings & { backend: PageParams['backend'] }) => {
    const counts = CLASSES.map((_, label) => pictures.filter((p) => p.label === label).length);
    if (counts.some((c) => c < 5)) {
      status.phase = 'error';
      status.error = `every shape needs at least 5 pictures (now ${counts.join(', ')}): draw more, or add generated ones.`;
      return render();
    }
    savePictures(pictures, s);
    element<HTMLButtonElement>('resume').hidden = true;
    void run(toSamples(pictures), s);
  };
  element('train').addEventListener('click', () => start(settings()));
  render();
  // After a reload mid-training: the pictures and the run's settings are in localStorage, its backup in IndexedDB.
  if (stored.run && (await backupAndRestore({ dir: stored.run.backupDir }).find()) !== undefined) {
    const resume = element<HTMLButtonElement>('resume');
    const run = stored.run;
    resume.hidden = false;
    resume.addEventListener('click', () => start({ ...run, backend: run.backend as PageParams['backend'] }));
    log(`an interrupted run (seed ${run.seed}, ${run.epochs} epochs) has a backup in ${run.backupDir}: press "Resume" to continue it`);
  }
}

async function main(): Promise<void> {
  let params: PageParams;
  try {
    params = pageParams(new URLSearchParams(location.search));
  } catch (error) {
    status.phase = 'error';
    status.error = (error as Error).message;
    render();
    throw error;
  }
  controls(params);
  tryPad();
  if (params.demo) await demo(params);
  else await interactive(params);
}

void main();
