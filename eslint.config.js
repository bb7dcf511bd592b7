// Flat config: typescript-eslint's recommended rules over every workspace.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '.strata/**', 'coverage/**', '**/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read environment variables only in a config module (src/config.ts).' },
      ],
    },
  },
  {
    // Config modules, the local stack and tests are where the environment is legitimately read.
    files: ['**/config.ts', 'dev/**', 'test/**', '**/*.test.ts', 'vitest.config.ts', 'infra/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
