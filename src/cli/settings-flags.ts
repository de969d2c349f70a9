import { Option, type Command } from 'commander';
import { SETTING_DEFINITIONS, parseOverrides, type SettingDefinition, type SettingKey, type SettingOverrides } from '../flannel/settings.js';

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

/** The operator's overrides from the flags and the environment (parseOverrides). Throws SettingError (exit 2). */
export function settingsOverrides(options: Record<string, unknown>, env: NodeJS.ProcessEnv): SettingOverrides {
  const flags: Partial<Record<SettingKey, string | undefined>> = {};
  for (const def of SETTING_DEFINITIONS) {
    const value = options[attributeOf(def)];
    if (value !== undefined) flags[def.key] = String(value);
  }
  return parseOverrides(flags, env);
}
