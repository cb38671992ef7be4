// Lint with type information: a promise nobody awaits or catches is a lost
// error in a daemon that must not lose one, so the promise rules are errors.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const readonly = (names) => Object.fromEntries(names.map((name) => [name, 'readonly']));

// Plain JavaScript has no type information for no-undef to lean on.
const nodeGlobals = readonly([
  'process',
  'console',
  'Buffer',
  'URL',
  'TextEncoder',
  'TextDecoder',
  'AbortController',
  'performance',
  'setTimeout',
  'clearTimeout',
  'setInterval',
  'clearInterval',
  'setImmediate',
  'queueMicrotask',
  'structuredClone',
]);
const browserGlobals = readonly([
  'window',
  'document',
  'location',
  'history',
  'navigator',
  'console',
  'fetch',
  'EventSource',
  'URL',
  'URLSearchParams',
  'setTimeout',
  'clearTimeout',
  'setInterval',
  'clearInterval',
  'requestAnimationFrame',
  'confirm',
  'Node',
  'CSS',
]);

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.tap/', 'data/', 'test/corpus/'] },
  js.configs.recommended,
  {
    rules: {
      // MLLP framing, HL7 and serial records are made of control characters:
      // matching them is what the parsers and their tests are for.
      'no-control-regex': 'off',
    },
  },
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      // One program for sources and tests: the tsconfig that typechecks both.
      parserOptions: { project: './tsconfig.test.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // tap queues a subtest the moment t.test() is called and reports its
          // failure itself; the promise it returns is only for ordering.
          allowForKnownSafePromises: [{ from: 'package', name: 'PromiseWithSubtest', package: '@tapjs/core' }],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      // An async function without await is how a promise-returning interface
      // is implemented here, and it keeps a throw a rejection; removing the
      // keyword would change behaviour, not fix it.
      '@typescript-eslint/require-await': 'off',
      // Passing on what a catch received keeps the original error; the rule
      // still refuses a rejection built from a string or a plain object.
      '@typescript-eslint/prefer-promise-reject-errors': [
        'error',
        { allowThrowingAny: true, allowThrowingUnknown: true },
      ],
      // `_name` marks a value kept on purpose (a field left out of a rest copy, a callback's position).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Tests read JSON replies and log lines as they come, untyped, and
      // assert their shape with t.match: typing each one first finds nothing.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
    },
  },
  { files: ['bin/**/*.js', 'scripts/**/*.js', 'test/**/*.mjs'], languageOptions: { globals: nodeGlobals } },
  {
    files: ['edge/dashboard/public/**/*.js'],
    languageOptions: { sourceType: 'module', globals: browserGlobals },
  },
);
