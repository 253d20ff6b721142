import type { BackupPlanSpec } from "../api/generated/types.js";
import type { Inventory, VirtualMachine } from "../vsphere/index.js";

/** A glob on names: `*` any run of characters, `?` one character; everything else literal. */
export function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${escaped}$`);
}

/** The inventory path of a VM's folder, e.g. "/DC0/vm/prod", as users see it in the vSphere client. */
export function vmFolderPath(inventory: Inventory, vm: VirtualMachine): string | undefined {
  const folders = new Map(inventory.folders.map((f) => [f.ref.value, f]));
  const names: string[] = [];
  let ref = vm.folder;
  for (let depth = 0; ref && depth < 64; depth++) {
    if (ref.type === "Datacenter") {
      const dc = inventory.datacenters.find((d) => d.ref.value === ref?.value);
      return dc ? `/${[dc.path, ...names.reverse()].join("/")}` : undefined;
    }
    const folder = folders.get(ref.value);
    if (!folder) return undefined;
    names.push(folder.name);
    ref = folder.parent;
  }
  return undefined;
}

/**
 * The VMs a BackupPlan selects: any VM named in `names`, below a folder in
 * `folders`, or matching a pattern in `namePatterns`, minus `excludeNames`;
 * templates never. Sorted by name so runs list VMs in a stable order.
 */
export function selectVMs(inventory: Inventory, selector: BackupPlanSpec["vms"]): VirtualMachine[] {
  const names = new Set(selector.names ?? []);
  const excluded = new Set(selector.excludeNames ?? []);
  const patterns = (selector.namePatterns ?? []).map(globToRegExp);
  const folders = (selector.folders ?? []).map((f) => f.replace(/\/+$/, ""));
  return inventory.vms
    .filter((vm) => !vm.template && !excluded.has(vm.name))
    .filter((vm) => {
      if (names.has(vm.name)) return true;
      if (patterns.some((p) => p.test(vm.name))) return true;
      if (folders.length === 0) return false;
      const path = vmFolderPath(inventory, vm);
      return path !== undefined && folders.some((f) => path === f || path.startsWith(`${f}/`));
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}
