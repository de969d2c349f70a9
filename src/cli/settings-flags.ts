import { Option, type Command } from 'commander';
import { parseDaemonSetRef } from '../flannel/discovery.js';
import { SETTING_DEFINITIONS, SettingError, parseOverrides, type SettingDefinition, type SettingKey, type SettingOverrides } from '../flannel/settings.js';

const PLACEHOLDERS: Record<SettingDefinition['type'], string> = {
  cidr: 'cidr',
  cidr6: 'cidr',
  string: 'name',
  int: 'n',
  bool: 'true|false',
  path: 'dir',
};

function optionFor(def: SettingDefinition): Option {
  const placeholder = def.key === 'flannelDaemonSetName' ? 'name|namespace/name' : PLACEHOLDERS[def.type];
  const fallback = def.defaultValue === null ? 'detected' : `detected, else ${String(def.defaultValue)}`;
  return new Option(`${def.flag} <${placeholder}>`, `${def.description} (env ${def.env}; default: ${fallback})`);
}

/** Commander's property name for a setting's flag ("--flannel-daemonset" -> "flannelDaemonset"). */
function attributeOf(def: SettingDefinition): string {
  return optionFor(def).attributeName();
}

/** One option per migration setting (FLANNEL_NETWORK … CNI_CONFIG_DIR), for detect, plan and migrate. */
export function addSettingsOptions(cmd: Command): Command {
  for (const def of SETTING_DEFINITIONS) cmd.addOption(optionFor(def));
  return cmd;
}

/**
 * The operator's overrides: flags win over the environment variables (FLANNEL_VNI …). A DaemonSet given as
 * "namespace/name" (flag or FLANNEL_DAEMONSET_NAME) also sets the namespace. Throws SettingError (exit 2).
 */
export function settingsOverrides(options: Record<string, unknown>, env: NodeJS.ProcessEnv): SettingOverrides {
  const flags: Partial<Record<SettingKey, string | undefined>> = {};
  for (const def of SETTING_DEFINITIONS) {
    const value = options[attributeOf(def)];
    if (value !== undefined) flags[def.key] = String(value);
  }
  const overrides = parseOverrides(flags, env);
  const name = overrides.flannelDaemonSetName;
  if (name) {
    const def = SETTING_DEFINITIONS.find((d) => d.key === 'flannelDaemonSetName')!;
    const origin = name.source === 'flag' ? def.flag : `environment variable ${def.env}`;
    const ref = parseDaemonSetRef(name.value);
    if (!ref) throw new SettingError(`${origin}: expected NAME or NAMESPACE/NAME of a DaemonSet (got "${name.value}")`);
    overrides.flannelDaemonSetName = { value: ref.name, source: name.source };
    if (ref.namespace) {
      const namespace = overrides.flannelDaemonSetNamespace;
      if (namespace && namespace.value !== ref.namespace && namespace.source === name.source) {
        throw new SettingError(`${origin} names namespace ${ref.namespace}, but ${namespace.source === 'flag' ? '--flannel-namespace' : 'FLANNEL_DAEMONSET_NAMESPACE'} says ${namespace.value}`);
      }
      if (!namespace || namespace.source === 'env' || namespace.value === ref.namespace) overrides.flannelDaemonSetNamespace = { value: ref.namespace, source: name.source };
    }
  }
  return overrides;
}
