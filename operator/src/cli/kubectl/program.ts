/**
 * The command line of `kubectl lifeboat`: commands, flags and their help,
 * parsed by commander into typed requests. What a request does lives in the
 * handlers, so parsing is tested without a cluster and the handlers are
 * exercised against a real one (e2e/suites/kubectl-plugin.e2e.ts).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import type { GlobalOptions } from "./cluster.js";
import { RESTORE_TARGETS, type RestoreRequest } from "./restore-job.js";

/** Where commands write: stdout and stderr in the real command, buffers in tests. */
export interface Output {
  write(text: string): void;
  readonly isTTY: boolean;
  /** Width of the terminal, when it is one: live frames are cut to it so a redraw moves up exactly its lines. */
  readonly columns?: number;
}

export interface Io {
  readonly out: Output;
  readonly err: Output;
}

export interface BackupRunRequest {
  readonly plan: string;
  readonly wait: boolean;
  readonly timeoutSeconds?: number;
}

export interface PointsRequest {
  readonly vm?: string;
  readonly plan?: string;
  readonly output?: "table" | "name" | "json";
}

export interface RestoreCommandRequest extends RestoreRequest {
  readonly output?: "yaml" | "json";
  readonly wait: boolean;
  readonly timeoutSeconds?: number;
}

export interface StatusRequest {
  /** Refresh until interrupted (the default on a terminal). */
  readonly watch: boolean;
  readonly intervalSeconds: number;
}

export interface FailoverRequest {
  readonly server: string;
  readonly point?: string;
  readonly commit: boolean;
  readonly cancel: boolean;
}

export interface ReverseRequest {
  readonly server: string;
  readonly inPlace: boolean;
  readonly confirmInPlace: boolean;
}

export interface FailbackRequest {
  readonly server: string;
}

export interface ResyncRequest {
  readonly server: string;
  /** The new spec.resyncRequest value: the time it was asked, so each run asks anew. */
  readonly request: string;
}

/** What each command does; each returns its exit code. */
export interface Handlers {
  backupRun(g: GlobalOptions, r: BackupRunRequest): Promise<number>;
  points(g: GlobalOptions, r: PointsRequest): Promise<number>;
  restore(g: GlobalOptions, r: RestoreCommandRequest): Promise<number>;
  status(g: GlobalOptions, r: StatusRequest): Promise<number>;
  failover(g: GlobalOptions, r: FailoverRequest): Promise<number>;
  reverse(g: GlobalOptions, r: ReverseRequest): Promise<number>;
  failback(g: GlobalOptions, r: FailbackRequest): Promise<number>;
  resync(g: GlobalOptions, r: ResyncRequest): Promise<number>;
}

/** "90s", "10m", "2h" or plain seconds, as --timeout takes it. */
export function parseDuration(text: string): number {
  const m = /^(\d+)(s|m|h)?$/.exec(text.trim());
  if (!m) throw new InvalidArgumentError(`"${text}" is not a duration; write e.g. 90s, 10m or 2h`);
  return Number(m[1]) * (m[2] === "h" ? 3600 : m[2] === "m" ? 60 : 1);
}

function integerArg(text: string, previous: number[] | undefined): number[] {
  if (!/^\d+$/.test(text)) throw new InvalidArgumentError(`"${text}" is not a disk's device key (a whole number, e.g. 2000)`);
  return [...(previous ?? []), Number(text)];
}

function collect(text: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), text];
}

/** Drops the options commander left undefined, so requests only carry what was given. */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const EXAMPLES = `
Examples:
  kubectl lifeboat backup run web-daily --wait
  kubectl lifeboat points web-01
  kubectl lifeboat restore web-01-20261202t020000z-1a2b3c4d --to vsphere --datastore ds1 --vm-name web-01-restored --wait
  kubectl lifeboat restore web-01-20261202t020000z-1a2b3c4d --to image-file --pvc images --format qcow2 -o yaml > restore.yaml
  kubectl lifeboat status
  kubectl lifeboat failover db-01 --point latest
`;

/**
 * The command tree. `handlers` run the commands; `io` receives help and
 * parse errors; `exitCode` receives the code of the command that ran.
 * Global flags (--kubeconfig, --context, -n) are accepted before or after
 * the command, as kubectl accepts them.
 */
export function buildProgram(handlers: Handlers, io: Io, exitCode: (code: number) => void): Command {
  const program = new Command("kubectl lifeboat")
    .description("Back up, restore and fail over vSphere VMs with Lifeboat, from kubectl")
    .option("--kubeconfig <file>", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
    .option("--context <name>", "kubeconfig context to use (default: the current one)")
    .option("-n, --namespace <namespace>", "namespace of the Lifeboat objects (default: the context's, else default)")
    .addHelpText("after", EXAMPLES)
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ writeOut: (s) => { io.out.write(s); }, writeErr: (s) => { io.err.write(s); } })
    .exitOverride();
  const globals = (cmd: Command): GlobalOptions => {
    const o = cmd.optsWithGlobals<{ kubeconfig?: string; context?: string; namespace?: string }>();
    return defined({ kubeconfig: o.kubeconfig, context: o.context, namespace: o.namespace });
  };
  const run = (p: Promise<number>) => p.then(exitCode);

  const backup = program.command("backup").description("work with BackupPlans' runs");
  backup
    .command("run")
    .description("start a run of a BackupPlan now (sets spec.runRequest); --wait follows it to the end")
    .argument("<plan>", "BackupPlan name")
    .option("--wait", "follow the run and exit non-zero unless every VM succeeded", false)
    .option("--timeout <duration>", "with --wait: give up after this long, e.g. 30m", parseDuration)
    .action((plan: string, o: { wait: boolean; timeout?: number }, cmd: Command) => run(handlers.backupRun(globals(cmd), defined({ plan, wait: o.wait, timeoutSeconds: o.timeout }))));

  program
    .command("points")
    .description("list recovery points, newest first")
    .argument("[vm]", "only the points of this VM")
    .option("--plan <plan>", "only the points this BackupPlan made")
    .addOption(new Option("-o, --output <format>", "table, name or json").choices(["table", "name", "json"]).default("table"))
    .action((vm: string | undefined, o: { plan?: string; output: "table" | "name" | "json" }, cmd: Command) => run(handlers.points(globals(cmd), defined({ vm, plan: o.plan, output: o.output }))));

  program
    .command("restore")
    .description("restore a RecoveryPoint by creating a RestoreJob; -o yaml prints it instead (for Git)")
    .argument("<point>", "RecoveryPoint name (see `kubectl lifeboat points`)")
    .addOption(new Option("--to <target>", "where to restore to").choices(RESTORE_TARGETS).makeOptionMandatory())
    .option("--name <name>", "RestoreJob name (default: restore-POINT-TIME)")
    .option("--gateway <gateway>", "Gateway whose workers restore (default: the point's plan's)")
    .addOption(new Option("-o, --output <format>", "print the RestoreJob instead of creating it").choices(["yaml", "json"]))
    .option("--wait", "follow the restore and exit non-zero unless it succeeds", false)
    .option("--timeout <duration>", "with --wait: give up after this long, e.g. 30m", parseDuration)
    .optionsGroup("--to vsphere:")
    .option("--vcenter <vcenter>", "VCenter to restore into (default: the point's plan's)")
    .option("--datacenter <name>", "datacenter")
    .option("--cluster <name>", "cluster to place the VM in")
    .option("--host <name>", "ESXi host to place the VM on")
    .option("--resource-pool <path>", "resource pool")
    .option("--datastore <name>", "datastore for the VM's files and disks (required)")
    .option("--folder <path>", "VM folder, e.g. /dc1/vm/restored")
    .option("--vm-name <name>", "name of the new VM (required unless --in-place)")
    .option("--network <source=target>", "map a network of the point to one of the target (repeatable)", collect)
    .option("--disk-provisioning <type>", "Thin, Thick or EagerZeroedThick")
    .option("--power-on", "power the VM on afterwards")
    .option("--in-place", "overwrite the original VM's disks (with --confirm-in-place)")
    .option("--confirm-in-place", "confirm that --in-place overwrites the original VM")
    .optionsGroup("--to image-file:")
    .option("--format <format>", "raw, qcow2, vhd, vhd-fixed or vmdk (cloud-image: RAW, VHD or QCOW2)")
    .option("--pvc <claim>", "PersistentVolumeClaim to write the files to")
    .option("--path <dir>", "directory inside the claim")
    .option("--s3-endpoint <url>", "S3 endpoint to write the files to")
    .option("--s3-bucket <bucket>", "S3 bucket")
    .option("--s3-prefix <prefix>", "S3 key prefix")
    .option("--s3-region <region>", "S3 region")
    .option("--s3-secret <secret>", "Secret with the S3 access key pair")
    .option("--disk <key>", "only this disk, by device key (repeatable)", integerArg)
    .optionsGroup("--to cloud-image (Alibaba ECS):")
    .option("--region <region>", "region, e.g. cn-shanghai")
    .option("--image-name <name>", "name of the image")
    .option("--oss-bucket <bucket>", "OSS bucket to stage the image files in")
    .option("--credentials-secret <secret>", "Secret with the AccessKey pair")
    .option("--strategy <strategy>", "ImportImage (IntermediateInstance: use -o yaml and add its settings)")
    .action((point: string, o: Omit<RestoreCommandRequest, "point" | "timeoutSeconds"> & { timeout?: number }, cmd: Command) => {
      const { timeout, ...rest } = o;
      return run(handlers.restore(globals(cmd), defined({ ...rest, point, timeoutSeconds: timeout })));
    });

  program
    .command("status")
    .description("plans, running backups and restores with progress, protected servers; refreshes on a terminal")
    .option("--watch", "keep refreshing (default on a terminal)")
    .option("--no-watch", "print one snapshot and exit")
    .option("--interval <duration>", "time between refreshes", parseDuration, 2)
    .action((o: { watch?: boolean; interval: number }, cmd: Command) => run(handlers.status(globals(cmd), { watch: o.watch ?? io.out.isTTY, intervalSeconds: Math.max(1, o.interval) })));

  program
    .command("failover")
    .description("fail a ProtectedServer over to the recovery site, change its point, commit or cancel it")
    .argument("<server>", "ProtectedServer name")
    .option("--point <point>", "RecoveryPoint name, latest or latest-app-consistent (default: latest)")
    .option("--commit", "make the failover final: fences the original VM (never deletes it)", false)
    .option("--cancel", "undo an uncommitted failover: back to Replicating", false)
    .action((server: string, o: { point?: string; commit: boolean; cancel: boolean }, cmd: Command) => run(handlers.failover(globals(cmd), defined({ server, point: o.point, commit: o.commit, cancel: o.cancel }))));

  program
    .command("reverse")
    .description("after a committed failover: replicate the recovered server back to the protected site")
    .argument("<server>", "ProtectedServer name")
    .option("--in-place", "fail back over the original VM's disks (with --confirm-in-place); default: a new VM", false)
    .option("--confirm-in-place", "confirm that the failback overwrites the original VM", false)
    .action((server: string, o: { inPlace: boolean; confirmInPlace: boolean }, cmd: Command) => run(handlers.reverse(globals(cmd), { server, inPlace: o.inPlace, confirmInPlace: o.confirmInPlace })));

  program
    .command("failback")
    .description("bring a reverse-replicating server up at the protected site again")
    .argument("<server>", "ProtectedServer name")
    .action((server: string, _o: object, cmd: Command) => run(handlers.failback(globals(cmd), { server })));

  program
    .command("resync")
    .description("start a checksum resync of a replicating server now: a cycle that reads every allocated area instead of CBT's changes")
    .argument("<server>", "ProtectedServer name")
    .action((server: string, _o: object, cmd: Command) => run(handlers.resync(globals(cmd), { server, request: new Date().toISOString() })));

  return program;
}

/**
 * Parses `argv` (the arguments after the command name) and runs the
 * command; returns the exit code: 0 for help and version, 2 for a usage
 * error (which commander has already printed), else the command's.
 */
export async function runProgram(handlers: Handlers, io: Io, argv: readonly string[]): Promise<number> {
  let code = 0;
  const program = buildProgram(handlers, io, (c) => { code = c; });
  if (argv.length === 0) {
    program.outputHelp();
    return 2;
  }
  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  return code;
}
