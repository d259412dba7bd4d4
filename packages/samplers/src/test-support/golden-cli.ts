// Run as `node --conditions=@fitstream/source --import tsx golden-cli.ts`: prints the golden vectors as JSON.
import { goldenVectors } from './golden.js';

process.stdout.write(JSON.stringify(goldenVectors()));
