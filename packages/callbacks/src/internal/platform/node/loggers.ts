// The loggers that write files (Node). The browser build (../browser/loggers.ts) has the same exports, which throw at
// plugin creation; code reaches these through `#platform/loggers` so that a browser bundle never imports node:fs.
export { jsonlLogger, replay } from '../../io/jsonl-logger.js';
export { csvLogger } from '../../io/csv-logger.js';
export { tensorBoard } from '../../io/tensorboard/tensor-board.js';
