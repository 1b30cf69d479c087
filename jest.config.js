/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.jest.json' }],
  },
  setupFiles: ['<rootDir>/test/env.ts'],
  testTimeout: 30000,
  reporters: process.env.JEST_JSON_OUTPUT
    ? ['default', ['<rootDir>/test/support/summary-reporter.js', { file: process.env.JEST_JSON_OUTPUT }]]
    : ['default'],
};
