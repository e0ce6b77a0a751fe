// The thin edge: argv -> command module, errors -> exit status. Nothing else.
import { isInputError, oneLine } from './errors.js';

export interface Command {
  run(args: string[]): Promise<number>;
}

const COMMANDS: Record<string, () => Promise<Command>> = {
  proxy: () => import('./cli/proxy.js'),
  injector: () => import('./cli/injector.js'),
  init: () => import('./cli/init.js'),
  inject: () => import('./cli/inject.js'),
  ca: () => import('./cli/ca.js'),
  pin: () => import('./cli/pin.js'),
  verify: () => import('./cli/verify.js'),
  demo: () => import('./cli/demo.js'),
  controller: () => import('./cli/controller.js'),
  'wait-ready': () => import('./cli/wait-ready.js'),
};

const USAGE = `usage: tlsmesh <command> [flags]

commands:
  proxy --config FILE        run the sidecar (or TLSMESH_CONFIG=FILE)
  injector --config FILE     run the mutating admission webhook
  init [flags]               write the transparent-capture iptables rules
  inject -f FILE|-           print manifests with the sidecar injected
  ca init|issue ...          the dev issuer (cert-manager Secret layout)
  pin FILE.pem               print the SPKI pin of the first certificate
  verify --bundle CA.pem [--expect ID] [--pin PIN] CERT.pem
                             run the proxy's peer checks on a certificate
  demo [--duration S]        a local mesh with rotating certificates
  controller --config FILE   keep a cert-manager Certificate per ServiceAccount
  wait-ready [--timeout 120s] wait until the local sidecar is ready (postStart hook)
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === 'version') {
    const { VERSION } = await import('./version.js');
    process.stdout.write(`tlsmesh ${VERSION}\n`);
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`tlsmesh: unknown command: ${name} (see tlsmesh --help)\n`);
    return 2;
  }
  const command = await load();
  return command.run(rest);
}

// A command returns its exit status when it is done; servers, watchers and
// timers it leaves behind must not keep the process alive after that.
// (stdout and stderr are synchronous for files and pipes on Linux.)
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (isInputError(err)) {
      process.stderr.write(`${oneLine(err)}\n`);
      process.exit(2);
    }
    process.stderr.write(`tlsmesh: ${oneLine(err)}\n`);
    if (process.env.TLSMESH_DEBUG) console.error(err);
    process.exit(1);
  },
);
