#!/usr/bin/env node
// The `fitstream` command. It runs the compiled CLI in ../dist, which `npm ci` / `npm install` at the repository root
// build through the root `prepare` script (see docs/decisions/0003-cli-runs-after-npm-ci.md).
let main;
try {
  ({ main } = await import('../dist/main.js'));
} catch (error) {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND' && /[/\\]dist[/\\]/.test(String(error.message))) {
    process.stderr.write(
      'fitstream: the CLI is not built (' + String(error.message).split('\n')[0] + ').\n' +
        'Run `npm run build` at the repository root (`npm ci` and `npm install` do it through the root prepare script).\n',
    );
    process.exit(1);
  }
  throw error;
}
process.exitCode = await main(process.argv.slice(2));
