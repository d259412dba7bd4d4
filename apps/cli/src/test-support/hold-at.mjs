// Test-only preload (`node --import`): holds the process forever just before the n-th `rename` or `writeFile` (from
// node:fs/promises) whose destination matches a pattern — or, with `"after": true`, just after it completed — after
// writing a marker file. A test waits for the marker and kills the process there — a kill at an exact moment of a run
// (mid checkpoint write, a backup just put in place, during the model export), decided by what the process does, not
// by timing.
//
// FITSTREAM_TEST_HOLD='{"op":"rename","match":"/model$","nth":1}'  FITSTREAM_TEST_HOLD_MARK=<file to create>
// FITSTREAM_TEST_HOLD='{"op":"rename","match":"/backup/backup$","nth":3,"after":true}'  (the 3rd backup in place, not yet announced)
import { writeFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';

const spec = process.env.FITSTREAM_TEST_HOLD ? JSON.parse(process.env.FITSTREAM_TEST_HOLD) : undefined;
const mark = process.env.FITSTREAM_TEST_HOLD_MARK;
if (spec && mark) {
  const fsp = createRequire(import.meta.url)('node:fs/promises');
  const pattern = new RegExp(spec.match);
  let seen = 0;
  const original = fsp[spec.op];
  fsp[spec.op] = function held(...args) {
    const target = String(spec.op === 'rename' ? args[1] : args[0]);
    if (pattern.test(target) && ++seen === spec.nth) {
      const hold = () => {
        writeFileSync(mark, `${spec.after ? 'after' : 'before'} ${spec.op} ${target}\n`);
        setInterval(() => {}, 1 << 30); // keep the process alive until it is killed
        return new Promise(() => {});
      };
      return spec.after ? original.apply(this, args).then(hold) : hold();
    }
    return original.apply(this, args);
  };
  syncBuiltinESMExports();
}
