// One flat config for every workspace; each package runs `eslint src` with it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/*.d.ts', '**/bin/**', '**/test-support/**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // The training loop is async: a forgotten await is a silent bug.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowNullish: true, allowArray: true }],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'Derive randomness from the core PRNG (Random / control.random).' }],
    },
  },
  {
    // Spreading an array into a call's arguments puts every element on the stack: `Math.min(...values)` threw a
    // RangeError on a report of ~62k steps (issue 17). Reduce or loop over anything that grows with the data.
    files: ['packages/callbacks/src/**/*.ts', 'apps/cli/src/**/*.ts'],
    ignores: ['**/*.test.ts', '**/test-support/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.object.name='Math'][callee.property.name=/^(min|max)$/] > SpreadElement", message: 'Math.min/max(...values) overflows the stack on long arrays: use a reduction or a loop.' },
        { selector: 'CallExpression[callee.property.name=/^(push|unshift|splice|fromCharCode)$/] > SpreadElement', message: 'Spreading a long array into push/unshift/splice/fromCharCode overflows the stack: loop instead.' },
      ],
    },
  },
  {
    files: ['**/*.test.ts', '**/*.test-d.ts', '**/test-support/**'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/require-await': 'off',
      'no-restricted-properties': 'off',
    },
  },
);
