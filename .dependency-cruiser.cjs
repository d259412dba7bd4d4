// dependency-cruiser's configuration: the rules are in scripts/dependency-rules.cjs (no cycles, core's layers, declared
// package edges); `npm run lint:deps` runs them over packages/, apps/ and examples/.
module.exports = require('./scripts/dependency-rules.cjs').configFor(__dirname);
