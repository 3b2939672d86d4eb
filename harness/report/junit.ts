/** JUnit XML of a scenario run (junit-report-builder): one testsuite per area, one testcase per scenario. */
import junitModule, { type Builder } from 'junit-report-builder';
import type Mocha from 'mocha';

// The package's CommonJS export is the builder itself; its typings describe an ESM default.
const junit = junitModule as unknown as Builder;

export class JUnitReport {
  private readonly builder = junit.newBuilder();
  private readonly suites = new Map<string, ReturnType<typeof this.builder.testSuite>>();

  constructor(private readonly title: string) {}

  private suite(test: Mocha.Runnable) {
    const name = test.parent?.fullTitle() || this.title;
    let s = this.suites.get(name);
    if (!s) {
      s = this.builder.testSuite().name(name);
      this.suites.set(name, s);
    }
    return s;
  }

  pass(test: Mocha.Runnable): void {
    this.suite(test).testCase().className(this.title).name(test.title).time((test.duration ?? 0) / 1000);
  }

  fail(test: Mocha.Runnable, err: Error): void {
    this.suite(test)
      .testCase()
      .className(this.title)
      .name(test.title)
      .time((test.duration ?? 0) / 1000)
      .failure(err.message)
      .stacktrace(err.stack ?? '');
  }

  skip(test: Mocha.Runnable): void {
    this.suite(test).testCase().className(this.title).name(test.title).skipped();
  }

  write(path: string): void {
    this.builder.writeTo(path);
  }
}
