import { expect, test } from "@jest/globals";
import { restoreProgress } from "./restore-job-controller.js";

const GiB = 1024 ** 3;

test("restore progress carries each byte count beside its human-readable form", () => {
  expect(restoreProgress(4.2 * GiB, 40 * GiB, 125_829_120.4)).toEqual({
    bytesDone: 4.2 * GiB,
    done: "4.2 GiB",
    bytesTotal: 40 * GiB,
    total: "40 GiB",
    percent: 10,
    throughputBytesPerSecond: 125_829_120,
    throughput: "120 MiB/s",
  });
});

test("a restore of nothing is 0 percent, not NaN", () => {
  expect(restoreProgress(0, 0, 0)).toMatchObject({ percent: 0, done: "0 B", total: "0 B", throughput: "0 B/s" });
});
