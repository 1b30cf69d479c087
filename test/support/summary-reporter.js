// Writes jest's aggregated results (the same summary `jest --json` prints) to a file, for .ci/run's count line.
const fs = require('fs');

class SummaryReporter {
  constructor(_globalConfig, options) {
    this.file = options.file;
  }
  onRunComplete(_contexts, results) {
    const { numTotalTests, numPassedTests, numFailedTests, numPendingTests, success } = results;
    fs.writeFileSync(
      this.file,
      JSON.stringify({ numTotalTests, numPassedTests, numFailedTests, numPendingTests, success }),
    );
  }
}
module.exports = SummaryReporter;
