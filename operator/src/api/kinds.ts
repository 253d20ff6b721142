import { backupPlan } from "./backup-plan.js";
import { backupVault } from "./backup-vault.js";
import type { KindDefinition } from "./common.js";
import { gateway } from "./gateway.js";
import { protectedServer } from "./protected-server.js";
import { recoveryDrill } from "./recovery-drill.js";
import { recoveryPlan } from "./recovery-plan.js";
import { recoveryPoint } from "./recovery-point.js";
import { replicationPolicy } from "./replication-policy.js";
import { restoreJob } from "./restore-job.js";
import { sitePair } from "./site-pair.js";
import { vCenter } from "./vcenter.js";

/** Every kind of the lifeboat.io API, in the order the docs list them. */
export const kinds: readonly KindDefinition[] = [backupVault, gateway, vCenter, backupPlan, recoveryPoint, restoreJob, sitePair, replicationPolicy, protectedServer, recoveryDrill, recoveryPlan];
