import { describe, expect, it } from "@jest/globals";
import { parseBackupResult } from "./spec.js";

describe("parseBackupResult", () => {
  it("reads the final figures a backup worker leaves as its termination message", () => {
    expect(parseBackupResult(JSON.stringify({ pointId: "p1", bytesDone: 10, bytesTotal: 10 }))).toEqual({ pointId: "p1", bytesDone: 10, bytesTotal: 10 });
  });

  it("takes nothing else for one: a failure line, an older worker's message, damaged JSON, wrong types", () => {
    for (const message of [undefined, "", "VaultFull: out of space", "{", JSON.stringify({ pointId: "p1" }), JSON.stringify({ pointId: 1, bytesDone: 1, bytesTotal: 1 }), JSON.stringify({ pointId: "p", bytesDone: "1", bytesTotal: 1 }), JSON.stringify({ pointId: "p", bytesDone: 1.5, bytesTotal: 2 })]) {
      expect(parseBackupResult(message)).toBeUndefined();
    }
  });
});
