// Run in a worker thread (execArgv: --conditions=@fitstream/source --import tsx): posts the golden vectors as JSON.
import { parentPort } from 'node:worker_threads';
import { goldenVectors } from './golden.js';

parentPort?.postMessage(JSON.stringify(goldenVectors()));
