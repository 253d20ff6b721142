import { describe, expect, it } from "@jest/globals";
import { LiveView } from "./live.js";

function view(isTTY: boolean, columns?: number) {
  const written: string[] = [];
  return { written, live: new LiveView({ write: (s) => { written.push(s); }, isTTY, ...(columns ? { columns } : {}) }) };
}

describe("live progress", () => {
  it("redraws a frame in place on a terminal, cut to its width", () => {
    const { written, live } = view(true, 10);
    live.render([{ id: "a", state: "1", text: "first line is long" }, { id: "b", state: "1", text: "second" }]);
    live.render([{ id: "a", state: "2", text: "again" }]);
    expect(written).toEqual(["first lin\nsecond\n", "\x1b[2A\x1b[0Jagain\n"]);
  });

  it("prints a line in a pipe only when its state changes", () => {
    const { written, live } = view(false);
    live.render([{ id: "vm", state: "Snapshotting", text: "vm Snapshotting" }]);
    live.render([{ id: "vm", state: "Snapshotting", text: "vm Snapshotting (later)" }]);
    live.render([{ id: "vm", state: "Transferring", text: "vm Transferring 10%" }]);
    expect(written).toEqual(["vm Snapshotting\n", "vm Transferring 10%\n"]);
  });
});
