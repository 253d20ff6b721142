/**
 * Entry point inside the temporary instance of an IntermediateInstance
 * restore (`node dist/operator/src/worker/guest-main.js < spec.json`): reads
 * the GuestWriteSpec from stdin, or from the file named as its argument,
 * writes the disks, reports, and exits 0 when every disk was written.
 * Logs go to stdout, which ECS keeps as the instance's console output.
 */
import { readFile } from "node:fs/promises";
import { text } from "node:stream/consumers";
import { pino } from "pino";
import { describeChain } from "./errors.js";
import { guestWrite, type GuestWriteSpec } from "./guest-write.js";

async function main(): Promise<number> {
  const logger = pino({ base: { component: "lifeboat-guest" }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } });
  try {
    const file = process.argv[2];
    const spec = JSON.parse(file ? await readFile(file, "utf8") : await text(process.stdin)) as GuestWriteSpec;
    logger.info({ restoreId: spec.restoreId, disks: spec.disks.map((d) => ({ key: d.key, device: d.device, sizeBytes: d.sizeBytes })) }, "Writing the restore's disks");
    const result = await guestWrite(spec, process.env, (fields, msg) => { logger.info(fields, msg); });
    if (result.ok) logger.info({ restoreId: spec.restoreId, disks: result.disks }, "Every disk written; result reported");
    else logger.error({ restoreId: spec.restoreId, err: result.error }, "Writing the disks failed; result reported");
    logger.flush();
    return result.ok ? 0 : 1;
  } catch (err) {
    logger.error({ err: describeChain(err) }, "The guest could not run or report");
    logger.flush();
    return 2;
  }
}

void main().then((code) => process.exit(code));
