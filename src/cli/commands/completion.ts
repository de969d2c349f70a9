import { Argument, Command, type Option } from 'commander';
import { rootOf } from '../action.js';

const NAMES = ['flannel2calico', 'kubectl-flannel2calico'];
/** Options whose value is a path: completed with file names. */
const FILE_OPTIONS = new Set(['--kubeconfig', '--log-file', '--plan', '--calico-manifest', '--out', '--out-dir']);

function flagsOf(option: Option): string[] {
  return [option.short, option.long].filter((f): f is string => Boolean(f));
}

function takesValue(option: Option): boolean {
  return option.required || option.optional;
}

function visibleOptions(cmd: Command): Option[] {
  return cmd.options.filter((o) => !o.hidden);
}

function words(options: Option[]): string {
  return options.flatMap(flagsOf).join(' ');
}

/** Completes subcommands, their options, and the values of options with choices or file arguments. */
function bashCompletion(program: Command): string {
  const commands = program.commands.filter((c) => !(c as any)._hidden);
  const all = [...visibleOptions(program), ...commands.flatMap(visibleOptions)];
  const valued = [...new Set(all.filter((o) => o.required).flatMap(flagsOf))];
  const choices = all.filter((o) => o.argChoices?.length);
  const files = [...new Set(all.filter((o) => o.long && FILE_OPTIONS.has(o.long)).flatMap(flagsOf))];
  return `# bash completion for flannel2calico (and the kubectl plugin kubectl-flannel2calico)
# Load it in this shell:   source <(flannel2calico completion bash)
# For every new shell:     flannel2calico completion bash > ~/.local/share/bash-completion/completions/flannel2calico
_flannel2calico() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local commands="${commands.map((c) => c.name()).join(' ')} help"
  local globals="${words(visibleOptions(program))} --help"
  local valued=" ${valued.join(' ')} "
  local sub="" i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if [[ "$valued" == *" $w "* ]]; then ((i++)); continue; fi
    case "$w" in -*) ;; *) sub="$w"; break ;; esac
  done
  case "$prev" in
${choices
  .map(
    (o) =>
      `    ${flagsOf(o).join('|')}) COMPREPLY=($(compgen -W "${o.argChoices!.join(' ')}" -- ` + `"$cur")); return ;;`,
  )
  .join('\n')}
    ${files.join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --context) COMPREPLY=($(compgen -W "$(kubectl config get-contexts -o name 2>/dev/null)" -- "$cur")); return ;;
    --node|--nodes) COMPREPLY=($(compgen -W "$(kubectl get nodes -o name 2>/dev/null | sed 's|^node/||')" -- "$cur")); return ;;
  esac
  local opts=""
  case "$sub" in
    "") if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "$globals" -- "$cur")); else COMPREPLY=($(compgen -W "$commands" -- "$cur")); fi; return ;;
${commands.map((c) => `    ${c.name()}) opts="${words(visibleOptions(c))} --help" ;;`).join('\n')}
    help) COMPREPLY=($(compgen -W "$commands" -- "$cur")); return ;;
  esac
  ${
    commands.find((c) => c.name() === 'completion')
      ? `if [[ "$sub" == completion && "$cur" != -* ]]; then COMPREPLY=($(compgen -W "bash zsh" ` +
        `-- "$cur")); return; fi`
      : ''
  }
  COMPREPLY=($(compgen -W "$opts $globals" -- "$cur"))
}
complete -o default -F _flannel2calico ${NAMES.join(' ')}
`;
}

function zshQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function zshSpec(option: Option): string {
  const flags = flagsOf(option);
  const description = option.description.replace(/\[/g, '(').replace(/\]/g, ')').replace(/:/g, ' -');
  let value = '';
  if (takesValue(option)) {
    const colon = option.optional ? '::' : ':';
    if (option.argChoices?.length) value = `${colon}value:(${option.argChoices.join(' ')})`;
    else if (option.long && FILE_OPTIONS.has(option.long)) value = `${colon}file:_files`;
    else value = `${colon}value: `;
  }
  if (flags.length > 1) return `'(${flags.join(' ')})'{${flags.join(',')}}${zshQuote(`[${description}]${value}`)}`;
  return zshQuote(`${flags[0]}[${description}]${value}`);
}

function zshCompletion(program: Command): string {
  const commands = program.commands.filter((c) => !(c as any)._hidden);
  const globals = visibleOptions(program).map(zshSpec).join(' \\\n    ');
  return `#compdef ${NAMES.join(' ')}
# zsh completion for flannel2calico (and the kubectl plugin kubectl-flannel2calico)
# Load it in this shell:   source <(flannel2calico completion zsh)
# For every new shell:     flannel2calico completion zsh > "\${fpath[1]}/_flannel2calico"
_flannel2calico() {
  local -a commands globals
  commands=(
${commands.map((c) => `    ${zshQuote(`${c.name()}:${c.description().replace(/;/g, ',').replace(/:/g, ' -')}`)}`).join('\n')}
  )
  globals=(
    ${globals}
  )
  local curcontext="$curcontext" state line
  _arguments -C $globals '1: :->command' '*:: :->args'
  case $state in
    command) _describe 'command' commands ;;
    args)
      case $words[1] in
${commands
  .map(
    (c) =>
      `        ${c.name()}) _arguments $globals ${c.name() === 'completion' ? "'1:shell:(bash zsh)' " : ''}${visibleOptions(c).map(zshSpec).join(' ')} ` +
      `;;`,
  )
  .join('\n')}
      esac ;;
  esac
}
if [[ "\${funcstack[1]}" == _flannel2calico ]]; then _flannel2calico "$@"; else compdef _flannel2calico ${NAMES.join(' ')}; fi
`;
}

export function completionCommand(): Command {
  return new Command('completion')
    .description('print a shell completion script (bash or zsh) for flannel2calico and kubectl-flannel2calico')
    .addArgument(new Argument('<shell>', 'the shell to complete in').choices(['bash', 'zsh']))
    .addHelpText(
      'after',
      `
Examples:
  source <(flannel2calico completion bash)                       this shell
  flannel2calico completion bash > ~/.local/share/bash-completion/completions/flannel2calico
  flannel2calico completion zsh > "\${fpath[1]}/_flannel2calico"   then start a new shell`,
    )
    .action((shell: string, _options: unknown, command: Command) => {
      const program = rootOf(command);
      process.stdout.write(shell === 'zsh' ? zshCompletion(program) : bashCompletion(program));
    });
}
