// Checks the deployment files in deploy/ without a cluster, a Docker engine or systemd:
// every YAML file parses; the Kubernetes objects have the kinds, apiVersions and fields the
// deployment relies on (selectors, probes, host networking, security context, grace period
// longer than the drain, a node label that drains one node, no PodDisruptionBudget that would
// do nothing); every setting they use is one turnkit's schema knows (and the TURNKIT_* variables
// parse with the real loader); the systemd unit has its sandboxing; the Dockerfile builds on
// node:20-slim, runs non-root, ships every dist/* directory the npm package does and its
// HEALTHCHECK works; docs/operations.md names only metrics that exist, says what the
// .dockerignore sends, and its Docker commands can read the group-readable secret. Tools used
// when present, skipped with the reason otherwise:
// `kubectl kustomize` (builds the kustomization), `systemd-analyze verify`/`security`, and the
// npm package kubernetes-models (JSON-schema validation of each object).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { CONFIG_KEYS, OPTIONS, envName, loadConfigFile, loadEnv } from '../../src/config-file.js';
import { hasTool, skipUnless } from '../helpers/tools.js';
import { runTool } from '../helpers/process.js';

// ---------------------------------------------------------------- locating and reading files

/** The repository root: the nearest directory up from here with turnkit's package.json (works from test/ and dist/test/). */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'turnkit') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the turnkit repository root');
    dir = up;
  }
}

const ROOT = findRoot();
const DEPLOY = join(ROOT, 'deploy');
const K8S = join(DEPLOY, 'kubernetes');
const read = (rel: string): string => readFileSync(join(ROOT, rel), 'utf8');

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Follows a dotted path through objects (numeric parts index arrays); undefined when any step is missing. */
function at(o: unknown, path: string): unknown {
  let cur: unknown = o;
  for (const part of path.split('.')) {
    if (Array.isArray(cur) && /^\d+$/.test(part)) cur = cur[Number(part)];
    else if (isObj(cur)) cur = cur[part];
    else return undefined;
  }
  return cur;
}

/** Every document of a YAML file, failing the test on any parse error or warning. */
function parseDocs(file: string): unknown[] {
  const docs = YAML.parseAllDocuments(readFileSync(file, 'utf8'));
  const out: unknown[] = [];
  for (const d of docs) {
    const problems = [...d.errors, ...d.warnings].map((e) => e.message);
    if (problems.length > 0) throw new Error(`${relative(ROOT, file)}: ${problems.join('; ')}`);
    const js = d.toJS() as unknown;
    if (js !== null && js !== undefined) out.push(js);
  }
  return out;
}

const YAML_FILES = walk(DEPLOY).filter((f) => /\.ya?ml$/.test(f));

interface K8sObject extends Obj {
  apiVersion: string;
  kind: string;
  metadata: Obj & { name: string };
}

/** The Kubernetes objects in deploy/kubernetes (not the kustomization), with the file each came from. */
const objects: Array<{ file: string; obj: K8sObject }> = readdirSync(K8S)
  .filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml')
  .flatMap((f) => parseDocs(join(K8S, f)).map((obj) => ({ file: f, obj: obj as K8sObject })));

function one(kind: string): K8sObject {
  const found = objects.filter((o) => o.obj.kind === kind);
  if (found.length !== 1) throw new Error(`expected exactly one ${kind} in deploy/kubernetes, found ${found.length}`);
  return found[0]!.obj;
}

/** Kinds the deployment may use, with their apiVersion. */
const KNOWN_KINDS: Record<string, string> = {
  DaemonSet: 'apps/v1',
  Deployment: 'apps/v1',
  Service: 'v1',
  ConfigMap: 'v1',
  Secret: 'v1',
};

const LABELS = { 'app.kubernetes.io/name': 'turnkit' };

/** Whether every label of `selector` is on `labels` with the same value. */
function selects(selector: unknown, labels: unknown): boolean {
  if (!isObj(selector) || !isObj(labels) || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** Expands Kubernetes' $(VAR) references in an env value from the variables defined before it. */
function expand(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string) => vars[name] ?? m);
}

// ---------------------------------------------------------------- the config files

/** Top-level keys of a YAML config, plus those of `# key: value` lines (the commented-out defaults). */
function configKeys(text: string): { set: string[]; commented: Map<string, string> } {
  const doc = YAML.parse(text) as unknown;
  const set = isObj(doc) ? Object.keys(doc) : [];
  const commented = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^#\s?([a-z][a-z0-9_]*):\s*(.*)$/.exec(line);
    if (m) commented.set(m[1]!, m[2]!.replace(/\s+#.*$/, '').trim());
  }
  return { set, commented };
}

function drainTimeoutOf(configText: string): number {
  const doc = YAML.parse(configText) as Obj | null;
  const v = doc?.drain_timeout;
  if (v === undefined) return Number(OPTIONS.find((o) => o.key === 'drain_timeout')!.default);
  return Number(v);
}

/** The part of tap's Test these helpers use. */
interface HasTeardown {
  teardown(fn: () => unknown): void;
}

function tempDir(t: HasTeardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'turnkit-deploy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('every YAML file in deploy/ parses (all documents, no warnings)', async (t) => {
  t.ok(YAML_FILES.length >= 6, `found ${YAML_FILES.length} YAML files`);
  for (const f of YAML_FILES) {
    t.doesNotThrow(() => parseDocs(f), relative(ROOT, f));
  }
});

t.test('deploy/turnkit.yaml: short, secret_file, only known keys, commented defaults match the schema, loads', async (t) => {
  const text = read('deploy/turnkit.yaml');
  const lines = text.trimEnd().split('\n').length;
  t.ok(lines <= 45, `${lines} lines: an example to read, not a reference (that is docs/configuration.md)`);
  const { set, commented } = configKeys(text);
  t.ok(set.includes('secret_file'), 'uses secret_file');
  for (const k of ['secrets', 'api_keys', 'users']) t.notOk(set.includes(k), `no inline ${k}`);
  for (const k of set) t.ok(CONFIG_KEYS.includes(k), `set key ${k} is a turnkit setting`);
  t.ok(commented.size >= 15, `${commented.size} settings shown commented out`);
  for (const [k, v] of commented) {
    t.ok(CONFIG_KEYS.includes(k), `commented key ${k} is a turnkit setting`);
    const spec = OPTIONS.find((o) => o.key === k);
    // Where the schema's default is a plain number, the example must show that number.
    if (spec && /^\d+$/.test(spec.default)) t.equal(v, spec.default, `${k} shown at its default`);
  }
  // It loads with turnkit's own loader once the secret file exists.
  const dir = tempDir(t);
  const secretFile = join(dir, 'secret');
  writeFileSync(secretFile, 'a'.repeat(64) + '\n');
  const copy = join(dir, 'turnkit.yaml');
  writeFileSync(copy, text.replace(/^secret_file: .*$/m, `secret_file: ${secretFile}`));
  const input = loadConfigFile(copy) as Obj;
  t.same(input.secrets, ['a'.repeat(64)], 'secret_file read');
  t.equal(input.realm, 'turn.example.com');
});

t.test('Kubernetes objects: known kinds and apiVersions, named, labelled, no namespace', async (t) => {
  t.ok(objects.length >= 4);
  for (const { file, obj } of objects) {
    const where = `${file}: ${obj.kind}`;
    t.ok(obj.kind in KNOWN_KINDS, `${where} is a known kind`);
    t.equal(obj.apiVersion, KNOWN_KINDS[obj.kind], `${where} apiVersion`);
    t.match(obj.metadata?.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${where} has a DNS-1123 name`);
    t.equal(at(obj, 'metadata.namespace'), undefined, `${where} names no namespace (kubectl -n / kustomize decide)`);
    t.ok(selects(LABELS, obj.metadata.labels), `${where} labelled app.kubernetes.io/name=turnkit`);
  }
  for (const kind of ['DaemonSet', 'Service', 'ConfigMap', 'Secret']) {
    t.ok(objects.some((o) => o.obj.kind === kind), `has a ${kind}`);
  }
});

t.test('kustomization lists every manifest except the Secret template', async (t) => {
  const k = parseDocs(join(K8S, 'kustomization.yaml'))[0] as Obj;
  t.equal(k.apiVersion, 'kustomize.config.k8s.io/v1beta1');
  t.equal(k.kind, 'Kustomization');
  t.equal(k.namespace, undefined, 'namespace left to the user');
  const resources = k.resources as string[];
  t.ok(Array.isArray(resources));
  for (const r of resources) t.ok(existsSync(join(K8S, r)), `${r} exists`);
  const files = [...new Set(objects.map((o) => o.file))];
  for (const f of files) {
    if (f === 'secret.example.yaml') t.notOk(resources.includes(f), 'the Secret template is not applied (it would overwrite the real Secret)');
    else t.ok(resources.includes(f), `${f} listed`);
  }
});

t.test('DaemonSet: host network, probes, security context, drain, env the daemon understands', async (t) => {
  const ds = one('DaemonSet');
  const cm = one('ConfigMap');
  const secret = one('Secret');
  const pod = at(ds, 'spec.template.spec') as Obj;
  const podLabels = at(ds, 'spec.template.metadata.labels');
  t.ok(selects(at(ds, 'spec.selector.matchLabels'), podLabels), 'selector matches the template labels');
  t.ok(selects(LABELS, podLabels), 'pods labelled app.kubernetes.io/name=turnkit');
  t.equal(pod.hostNetwork, true, 'hostNetwork: the relay port range must be on the node address');
  t.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
  t.equal(pod.enableServiceLinks, false, 'no service links: TURNKIT_SERVICE_HOST etc. would be unknown TURNKIT_* variables');
  t.equal(at(ds, 'spec.updateStrategy.type'), 'RollingUpdate');

  // Pod and container security.
  t.equal(at(pod, 'securityContext.runAsNonRoot'), true, 'runAsNonRoot');
  const uid = at(pod, 'securityContext.runAsUser');
  t.ok(typeof uid === 'number' && uid > 0, `runAsUser ${String(uid)} is numeric and not root`);
  t.equal(at(pod, 'securityContext.seccompProfile.type'), 'RuntimeDefault');
  const containers = pod.containers as Obj[];
  t.equal(containers.length, 1);
  const c = containers[0]!;
  t.equal(at(c, 'securityContext.allowPrivilegeEscalation'), false, 'allowPrivilegeEscalation false');
  t.equal(at(c, 'securityContext.readOnlyRootFilesystem'), true, 'readOnlyRootFilesystem');
  t.same(at(c, 'securityContext.capabilities.drop'), ['ALL'], 'drops every capability');
  t.equal(at(c, 'securityContext.capabilities.add'), undefined, 'adds none');
  t.equal(at(c, 'securityContext.privileged'), undefined);
  for (const r of ['requests.cpu', 'requests.memory', 'limits.memory']) t.ok(at(c, `resources.${r}`), `resources.${r} set`);

  // Ports and probes.
  const ports = c.ports as Array<{ name: string; containerPort: number; protocol: string }>;
  const port = (name: string) => ports.find((p) => p.name === name);
  t.match(port('turn-udp'), { containerPort: 3478, protocol: 'UDP' });
  t.match(port('turn-tcp'), { containerPort: 3478, protocol: 'TCP' });
  t.match(port('turns'), { containerPort: 5349, protocol: 'TCP' });
  t.match(port('http'), { containerPort: 8080, protocol: 'TCP' });
  t.match(port('metrics'), { containerPort: 9641, protocol: 'TCP' });
  const probePort = (p: unknown) => (typeof p === 'string' ? port(p)?.containerPort : p);
  t.equal(at(c, 'readinessProbe.httpGet.path'), '/readyz', 'readiness on /readyz');
  t.equal(probePort(at(c, 'readinessProbe.httpGet.port')), 8080, 'readiness on the http port');
  t.equal(at(c, 'livenessProbe.httpGet.path'), '/healthz', 'liveness on /healthz');
  t.equal(probePort(at(c, 'livenessProbe.httpGet.port')), 8080, 'liveness on the http port');

  // Configuration: the ConfigMap's turnkit.yaml, mounted where --config points.
  const configText = (cm.data as Obj | undefined)?.['turnkit.yaml'];
  t.type(configText, 'string', 'ConfigMap has turnkit.yaml');
  const args = c.args as string[];
  t.equal(args[0], 'serve');
  const configPath = args[args.indexOf('--config') + 1];
  t.equal(configPath, '/etc/turnkit/turnkit.yaml');
  const mounts = c.volumeMounts as Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  const volumes = pod.volumes as Obj[];
  const configMount = mounts.find((m) => configPath!.startsWith(`${m.mountPath}/`));
  t.ok(configMount, '--config file is on a mount');
  const configVolume = volumes.find((v) => v.name === configMount?.name);
  t.equal(at(configVolume, 'configMap.name'), cm.metadata.name, 'that mount is the ConfigMap');
  const { set } = configKeys(configText as string);
  for (const k of set) t.ok(CONFIG_KEYS.includes(k), `ConfigMap key ${k} is a turnkit setting`);
  for (const k of ['secrets', 'api_keys', 'users']) t.notOk(set.includes(k), `no ${k} in the ConfigMap`);

  // The drain fits in the grace period.
  const drain = drainTimeoutOf(configText as string);
  const grace = pod.terminationGracePeriodSeconds as number;
  t.ok(grace > drain, `terminationGracePeriodSeconds ${grace} > drain_timeout ${drain}`);

  // The read-only root: state_dir must be a writable mount.
  const stateDir = (YAML.parse(configText as string) as Obj).state_dir as string;
  const stateMount = mounts.find((m) => m.mountPath === stateDir);
  t.ok(stateMount && !stateMount.readOnly, `state_dir ${stateDir} is a writable mount`);
  t.ok(at(volumes.find((v) => v.name === stateMount?.name), 'emptyDir'), 'an emptyDir');

  // Environment: every TURNKIT_* name is a setting; secrets from the Secret; the whole set loads.
  const env = c.env as Array<{ name: string; value?: string; valueFrom?: Obj }>;
  const known = new Set(CONFIG_KEYS.map(envName));
  const vars: Record<string, string> = {};
  const secretData = secret.stringData as Record<string, string>;
  for (const e of env) {
    if (e.name.startsWith('TURNKIT_')) t.ok(known.has(e.name), `${e.name} is a turnkit setting`);
    if (e.value !== undefined) vars[e.name] = expand(e.value, vars);
    else if (at(e, 'valueFrom.fieldRef.fieldPath')) vars[e.name] = '192.0.2.10';
    else if (at(e, 'valueFrom.secretKeyRef')) {
      const ref = at(e, 'valueFrom.secretKeyRef') as { name: string; key: string };
      t.equal(ref.name, secret.metadata.name, `${e.name} from the Secret`);
      t.ok(ref.key in secretData, `${e.name}: the Secret template has key ${ref.key}`);
      vars[e.name] = 'x'.repeat(32);
    }
  }
  for (const name of ['TURNKIT_SECRETS', 'TURNKIT_API_KEYS']) {
    t.ok(at(env.find((e) => e.name === name), 'valueFrom.secretKeyRef'), `${name} comes from the Secret`);
  }
  const fromEnv = loadEnv(Object.fromEntries(Object.entries(vars).filter(([k]) => k.startsWith('TURNKIT_')))) as Obj;
  t.same(fromEnv.httpListen, { host: '192.0.2.10', port: 8080 }, 'credential service on the node IP (probes and the Service reach it)');
  t.same(fromEnv.metricsListen, { host: '192.0.2.10', port: 9641 });
  t.same(fromEnv.relayIp, ['192.0.2.10'], 'relay_ip is a list (one IPv4 and/or one IPv6 address)');
  t.ok(Array.isArray(fromEnv.apiKeys) && (fromEnv.apiKeys as unknown[]).length > 0, 'API keys set (required off loopback)');
  // The ConfigMap file loads with turnkit's loader.
  const dir = tempDir(t);
  writeFileSync(join(dir, 'turnkit.yaml'), configText as string);
  t.doesNotThrow(() => loadConfigFile(join(dir, 'turnkit.yaml')), 'ConfigMap turnkit.yaml loads');
});

t.test('Secret template: placeholders that cannot run, keys the DaemonSet reads', async (t) => {
  const secret = one('Secret');
  t.equal(secret.type, 'Opaque');
  const data = secret.stringData as Record<string, string>;
  t.same(Object.keys(data).sort(), ['api-keys', 'secrets']);
  t.match(data.secrets, /REPLACE/, 'secret is a visible placeholder');
  t.ok(data['api-keys']!.length < 16, 'placeholder API key is shorter than the 16 characters turnkit requires: an unedited template fails to start');
  t.match(read('deploy/kubernetes/secret.example.yaml'), /openssl rand/, 'says how to generate values');
});

t.test('Service: ClusterIP on 8080 to the http port of the DaemonSet pods', async (t) => {
  const svc = one('Service');
  const ds = one('DaemonSet');
  t.equal(at(svc, 'spec.type'), 'ClusterIP');
  t.ok(selects(at(svc, 'spec.selector'), at(ds, 'spec.template.metadata.labels')), 'selects the DaemonSet pods');
  const ports = at(svc, 'spec.ports') as Obj[];
  t.equal(ports.length, 1);
  t.match(ports[0], { port: 8080, protocol: 'TCP' });
  const target = ports[0]!.targetPort;
  const cports = at(ds, 'spec.template.spec.containers.0.ports') as Obj[];
  t.ok(cports.some((p) => (p.name === target || p.containerPort === target) && p.containerPort === 8080), 'targetPort is the container http port');
});

// `kubectl drain` never evicts DaemonSet pods (it needs --ignore-daemonsets and leaves them
// running), DaemonSet pods tolerate the unschedulable taint, and DaemonSet rolling updates delete
// rather than evict: a PodDisruptionBudget over DaemonSet pods guards nothing. What does drain one
// node's turnkit is a node label in the nodeSelector, which the operator removes.
t.test('DaemonSet drains by node label, not by a PodDisruptionBudget; rolling updates one node at a time', async (t) => {
  const ds = one('DaemonSet');
  t.notOk(
    objects.some((o) => o.obj.kind === 'PodDisruptionBudget'),
    'no PodDisruptionBudget: drains, DaemonSet updates and label changes never go through the Eviction API for DaemonSet pods',
  );

  const selector = at(ds, 'spec.template.spec.nodeSelector');
  t.ok(isObj(selector) && Object.keys(selector).length === 1, 'nodeSelector with one label: the one the operator removes to drain a node');
  const [key, value] = Object.entries(isObj(selector) ? selector : {})[0] ?? ['', ''];
  t.type(value, 'string', 'label value quoted (a bare true would be a boolean and rejected)');
  t.match(key, /^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/, `${key} is a valid label key`);
  // The same label, spelled the same way, wherever an operator is told to set or remove it.
  const add = `kubectl label node NODE ${key}=${String(value)}`;
  const remove = `kubectl label node NODE ${key}-`;
  t.ok(read('deploy/kubernetes/daemonset.yaml').includes(add), 'daemonset.yaml says how to label a node');
  t.ok(read('deploy/kubernetes/kustomization.yaml').includes(add), 'the kustomization install steps label the nodes');
  const ops = read('docs/operations.md');
  t.ok(ops.includes(add), 'docs/operations.md labels the nodes');
  t.ok(ops.includes(remove), 'docs/operations.md drains a node by removing the label');
  t.ok(ops.includes('## Kubernetes') && ops.includes('### Draining a node'), 'docs/operations.md has "Draining a node"');
  t.match(read('README.md'), new RegExp(`${key}=${String(value)}`), 'README names the label');

  // Rolling updates: the controller deletes one pod (which drains) and waits for its replacement.
  t.equal(at(ds, 'spec.updateStrategy.rollingUpdate.maxUnavailable'), 1, 'maxUnavailable 1: one node drains at a time');
  t.equal(
    at(ds, 'spec.updateStrategy.rollingUpdate.maxSurge') ?? 0,
    0,
    'maxSurge 0: with hostNetwork a surge pod would need the same host ports as the old one and never start',
  );
});

t.test('the docs name only Kubernetes kinds deploy/kubernetes has', async (t) => {
  const kinds = ['DaemonSet', 'Deployment', 'StatefulSet', 'Service', 'ConfigMap', 'Secret', 'PodDisruptionBudget', 'HorizontalPodAutoscaler'];
  const have = new Set(objects.map((o) => o.obj.kind));
  const row = read('docs/operations.md')
    .split('\n')
    .find((l) => l.startsWith('| `deploy/kubernetes/` |'));
  t.ok(row, 'docs/operations.md lists deploy/kubernetes/ in its file table');
  const readme = /`deploy\/kubernetes\/` \(([^)]*)\)/.exec(read('README.md'))?.[1];
  t.ok(readme, 'README describes deploy/kubernetes/');
  for (const [where, text] of [['docs/operations.md', row ?? ''], ['README.md', readme ?? '']] as const) {
    for (const k of kinds) {
      if (new RegExp(`\\b${k}\\b`).test(text)) t.ok(have.has(k), `${where} names ${k}, which deploy/kubernetes has`);
    }
  }
});

t.test('kubectl kustomize builds the kustomization', skipUnless('kubectl'), async (t) => {
  // kustomize is offline; KUBECONFIG points nowhere so nothing can reach a cluster.
  const r = await runTool('kubectl', ['kustomize', K8S], { timeoutMs: 60_000, env: { ...process.env, KUBECONFIG: '/nonexistent' } });
  t.equal(r.code, 0, r.stderr);
  const kinds = parseDocs(join(tempDirWith(t, 'out.yaml', r.stdout), 'out.yaml')).map((o) => (o as K8sObject).kind).sort();
  t.same(kinds, ['ConfigMap', 'DaemonSet', 'Service']);
});

function tempDirWith(t: HasTeardown, name: string, text: string): string {
  const dir = tempDir(t);
  writeFileSync(join(dir, name), text);
  return dir;
}

// kubernetes-models validates objects against the Kubernetes OpenAPI schemas (types, enums,
// required fields). It is an optional dev dependency: without it this test is skipped.
let models: ((apiVersion: string, kind: string) => Promise<(new (o: unknown) => { validate(): void }) | undefined>) | undefined;
try {
  await import('kubernetes-models/v1/ConfigMap' as string);
  models = async (apiVersion, kind) => {
    const path = apiVersion.includes('/') ? `kubernetes-models/${apiVersion}/${kind}` : `kubernetes-models/v1/${kind}`;
    const m = (await import(path)) as Record<string, new (o: unknown) => { validate(): void }>;
    return m[kind];
  };
} catch {
  models = undefined;
}

t.test(
  'Kubernetes objects validate against the API schemas (kubernetes-models)',
  { skip: models ? false : 'npm package kubernetes-models not installed (optional devDependency)' },
  async (t) => {
    for (const { file, obj } of objects) {
      const Model = await models!(obj.apiVersion, obj.kind);
      t.ok(Model, `${file}: model for ${obj.apiVersion} ${obj.kind}`);
      t.doesNotThrow(() => new Model!(obj).validate(), `${file}: ${obj.kind} is schema-valid`);
    }
  },
);

// ---------------------------------------------------------------- systemd

/** Parses a systemd unit: sections of key=value lines, keys may repeat, `\` continues a line. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[([A-Za-z]+)\]$/.exec(line);
    if (sec) {
      current = new Map();
      sections.set(sec[1]!, current);
      continue;
    }
    const kv = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    if (!kv || !current) throw new Error(`line ${i + 1} is not key=value inside a section: ${line}`);
    current.set(kv[1]!, [...(current.get(kv[1]!) ?? []), kv[2]!.trim()]);
  }
  return sections;
}

const UNIT = 'deploy/systemd/turnkit.service';

t.test('systemd unit: parses, runs the daemon with the config, sandboxed, drains within the stop timeout', async (t) => {
  const unit = parseUnit(read(UNIT));
  t.same([...unit.keys()], ['Unit', 'Service', 'Install']);
  const s = unit.get('Service')!;
  const one = (k: string) => {
    const v = s.get(k);
    return v?.[v.length - 1];
  };
  t.equal(one('Type'), 'simple');
  t.equal(one('ExecStart'), '/usr/bin/env node --max-semi-space-size=2 /opt/turnkit/dist/bin/turnkit.js serve --config /etc/turnkit/turnkit.yaml');
  t.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
  const expected: Record<string, string> = {
    DynamicUser: 'yes',
    StateDirectory: 'turnkit',
    ConfigurationDirectory: 'turnkit',
    ProtectSystem: 'strict',
    ProtectHome: 'yes',
    PrivateTmp: 'yes',
    PrivateDevices: 'yes',
    NoNewPrivileges: 'yes',
    CapabilityBoundingSet: '',
    AmbientCapabilities: '',
    KillSignal: 'SIGTERM',
    Restart: 'on-failure',
    SystemCallArchitectures: 'native',
    ProtectKernelTunables: 'yes',
    ProtectControlGroups: 'yes',
    RestrictNamespaces: 'yes',
  };
  for (const [k, v] of Object.entries(expected)) t.equal(one(k), v, `${k}=${v}`);
  const families = (one('RestrictAddressFamilies') ?? '').split(/\s+/);
  for (const f of ['AF_INET', 'AF_INET6', 'AF_UNIX']) t.ok(families.includes(f), `RestrictAddressFamilies has ${f}`);
  t.ok(s.get('SystemCallFilter')?.includes('@system-service'), 'SystemCallFilter=@system-service');
  t.not(one('MemoryDenyWriteExecute'), 'yes', 'no MemoryDenyWriteExecute: V8 needs W+X pages');
  t.ok(Number(one('LimitNOFILE')) >= 65536, `LimitNOFILE ${one('LimitNOFILE')}: one fd per allocation`);
  const stop = Number(/^(\d+)s?$/.exec(one('TimeoutStopSec') ?? '')?.[1]);
  const drain = drainTimeoutOf(read('deploy/turnkit.yaml'));
  t.ok(stop > drain, `TimeoutStopSec ${stop} > drain_timeout ${drain}`);
  for (const env of s.get('Environment') ?? []) {
    const name = env.split('=')[0]!;
    if (name.startsWith('TURNKIT_')) t.ok(CONFIG_KEYS.map(envName).includes(name), `${name} is a turnkit setting`);
  }
  t.equal(unit.get('Install')?.get('WantedBy')?.[0], 'multi-user.target');
});

t.test('systemd-analyze verify: no unknown keys or bad values', skipUnless('systemd-analyze'), async (t) => {
  const r = await runTool('systemd-analyze', ['verify', join(ROOT, UNIT)], { timeoutMs: 60_000 });
  t.equal(r.code, 0, r.stderr);
  t.notMatch(r.stderr, /Unknown (key|section)|Invalid|Failed to parse|ignoring/i, r.stderr);
});

// Offline scoring needs systemd 250 or later: find out first, so an older one is a visible skip.
const security = hasTool('systemd-analyze')
  ? spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', join(ROOT, UNIT)], { encoding: 'utf8', timeout: 60_000 })
  : undefined;
const exposure = /Overall exposure level for \S+: ([\d.]+)/.exec(`${security?.stdout ?? ''}${security?.stderr ?? ''}`)?.[1];

t.test(
  'systemd-analyze security --offline: exposure stays low',
  {
    skip: !security
      ? skipUnless('systemd-analyze').skip
      : exposure === undefined
        ? `systemd-analyze has no offline security scoring here: ${(security.stderr ?? '').split('\n')[0]}`
        : false,
  },
  async (t) => {
    t.ok(Number(exposure) <= 2.5, `exposure ${exposure} <= 2.5 (systemd's scale: 0 safest, 10 unsafe)`);
  },
);

// ---------------------------------------------------------------- Dockerfile

interface Instruction {
  cmd: string;
  args: string;
  line: number;
}

/** Dockerfile instructions, continuation lines joined, comments and parser directives dropped. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buf = '';
  let start = 0;
  for (const [i, raw] of text.split('\n').entries()) {
    if (buf === '' && (raw.trim() === '' || raw.trimStart().startsWith('#'))) continue;
    if (buf !== '' && raw.trimStart().startsWith('#')) continue; // comment inside a continuation
    if (buf === '') start = i + 1;
    if (raw.endsWith('\\')) {
      buf += raw.slice(0, -1) + ' ';
      continue;
    }
    buf += raw;
    const m = /^\s*([A-Za-z]+)\s+(.*)$/s.exec(buf);
    if (!m) throw new Error(`Dockerfile line ${start}: cannot parse ${buf}`);
    out.push({ cmd: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start });
    buf = '';
  }
  if (buf !== '') throw new Error('Dockerfile ends inside a continuation line');
  return out;
}

/** The JSON array of an exec-form instruction (after any --flags), or undefined for the shell form. */
function execForm(args: string): string[] | undefined {
  const json = args.replace(/^(--\S+\s+)*/, '').replace(/^CMD\s+/, '');
  if (!json.startsWith('[')) return undefined;
  return JSON.parse(json) as string[];
}

const DOCKERFILE = 'deploy/docker/Dockerfile';

t.test('Dockerfile: multi-stage on node:20-slim, builds, runs non-root, exposes STUN/TURN, exec-form entry', async (t) => {
  const ins = parseDockerfile(read(DOCKERFILE));
  const known = new Set(['FROM', 'RUN', 'CMD', 'LABEL', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL']);
  for (const i of ins) t.ok(known.has(i.cmd), `line ${i.line}: ${i.cmd} is a Dockerfile instruction`);
  const froms = ins.map((i, n) => ({ ...i, n })).filter((i) => i.cmd === 'FROM');
  t.ok(froms.length >= 2, 'multi-stage');
  for (const f of froms) t.match(f.args, /^node:20-slim(\s+AS\s+\w+)?$/i, `line ${f.line}: FROM node:20-slim`);
  const build = ins.slice(froms[0]!.n, froms[1]!.n);
  const runtime = ins.slice(froms[froms.length - 1]!.n);
  const runs = build.filter((i) => i.cmd === 'RUN').map((i) => i.args).join(' && ');
  t.match(runs, /npm ci\b/, 'build stage: npm ci');
  t.match(runs, /npm run build\b/, 'build stage: npm run build');
  t.match(runs, /npm prune --omit=dev\b/, 'build stage: npm prune --omit=dev');

  const users = runtime.filter((i) => i.cmd === 'USER');
  t.ok(users.length > 0, 'final stage sets USER');
  const user = users[users.length - 1]!.args.split(':')[0]!;
  t.notOk(['root', '0'].includes(user), `runs as ${user}, not root`);

  const exposed = runtime.filter((i) => i.cmd === 'EXPOSE').flatMap((i) => i.args.split(/\s+/));
  for (const p of ['3478/udp', '3478/tcp', '5349/tcp']) t.ok(exposed.includes(p), `EXPOSE ${p}`);

  const last = (cmd: string) => runtime.filter((i) => i.cmd === cmd).pop();
  const entry = last('ENTRYPOINT');
  const cmd = last('CMD');
  const argv = [...(entry ? (execForm(entry.args) ?? []) : []), ...(cmd ? (execForm(cmd.args) ?? []) : [])];
  t.ok(entry ? execForm(entry.args) : true, 'ENTRYPOINT in exec form (node is PID 1 and gets SIGTERM)');
  t.same(argv.slice(0, 4), ['node', '--max-semi-space-size=2', '/app/dist/bin/turnkit.js', 'serve'], 'runs node --max-semi-space-size=2 /app/dist/bin/turnkit.js serve');

  // /app/dist/bin reaches the final stage.
  const workdirs: string[] = [];
  let wd = '/';
  const copiedTo: string[] = [];
  for (const i of runtime) {
    if (i.cmd === 'WORKDIR') wd = i.args.startsWith('/') ? i.args : join(wd, i.args);
    if (i.cmd === 'WORKDIR') workdirs.push(wd);
    if (i.cmd === 'COPY') {
      const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      const dest = parts[parts.length - 1]!;
      copiedTo.push(dest.startsWith('/') ? dest : join(wd, dest));
    }
  }
  t.ok(copiedTo.includes('/app/dist/bin'), 'dist/bin copied to /app/dist/bin');
  t.ok(copiedTo.includes('/app/node_modules'), 'production node_modules copied');

  for (const e of runtime.filter((i) => i.cmd === 'ENV')) {
    for (const m of e.args.matchAll(/(TURNKIT_[A-Z0-9_]+)=/g)) {
      t.ok(CONFIG_KEYS.map(envName).includes(m[1]!), `ENV ${m[1]} is a turnkit setting`);
    }
  }
  t.equal(last('STOPSIGNAL')?.args ?? 'SIGTERM', 'SIGTERM');
});

t.test('Dockerfile: every file the build copies from the context exists and passes the .dockerignore', async (t) => {
  const ins = parseDockerfile(read(DOCKERFILE));
  const ignore = read('deploy/docker/Dockerfile.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  t.equal(ignore[0], '*', 'allow-list style: everything excluded first');
  const allowed = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
  for (const i of ins.filter((x) => x.cmd === 'COPY' && !/--from=/.test(x.args))) {
    const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
    for (const src of parts.slice(0, -1)) {
      t.ok(existsSync(join(ROOT, src)), `line ${i.line}: ${src} exists at the repository root (the build context)`);
      const top = src.replace(/\/$/, '').split('/')[0]!;
      t.ok(allowed.includes(top), `line ${i.line}: ${src} is sent by Dockerfile.dockerignore`);
    }
  }
  for (const a of allowed) t.ok(existsSync(join(ROOT, a)), `dockerignore allows ${a}, which exists`);
});

/** The Dockerfile's stages: FROM index, stage name (AS ...), and its instructions. */
function stages(ins: Instruction[]): Array<{ name: string | undefined; ins: Instruction[] }> {
  const starts = ins.flatMap((i, n) => (i.cmd === 'FROM' ? [n] : []));
  return starts.map((start, k) => ({
    name: /\sAS\s+(\S+)\s*$/i.exec(ins[start]!.args)?.[1],
    ins: ins.slice(start, starts[k + 1] ?? ins.length),
  }));
}

/** Where each COPY --from=STAGE of a stage puts each source path: [source in STAGE, destination]. */
function copiesFrom(stage: Instruction[], from: string, fromWorkdir: string): Array<{ src: string; dest: string }> {
  const out: Array<{ src: string; dest: string }> = [];
  let wd = '/';
  for (const i of stage) {
    if (i.cmd === 'WORKDIR') wd = posix.resolve(wd, i.args);
    if (i.cmd !== 'COPY' || !new RegExp(`(^|\\s)--from=${from}(\\s|$)`).test(i.args)) continue;
    const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
    const dest = posix.resolve(wd, parts.pop()!);
    for (const src of parts) {
      const abs = posix.resolve(fromWorkdir, src);
      // One source is copied onto DEST; several go into DEST/ by their base names.
      out.push({ src: abs, dest: parts.length === 1 ? dest : posix.join(dest, posix.basename(abs)) });
    }
  }
  return out;
}

t.test('Dockerfile: the runtime stage ships every dist/* entry of package.json "files"', async (t) => {
  const ins = parseDockerfile(read(DOCKERFILE));
  const all = stages(ins);
  const build = all[0]!;
  const runtime = all[all.length - 1]!;
  t.ok(build.name, 'the build stage is named');
  const buildDir = posix.resolve('/', build.ins.filter((i) => i.cmd === 'WORKDIR').pop()?.args ?? '/');
  // The app root: ENTRYPOINT runs <root>/<package.json bin.turnkit>.
  const pkg = JSON.parse(read('package.json')) as { files: string[]; bin: Record<string, string> };
  const entry = execForm(runtime.ins.filter((i) => i.cmd === 'ENTRYPOINT').pop()?.args ?? '[]') ?? [];
  const script = entry.find((a) => a.endsWith(`/${pkg.bin.turnkit!}`));
  t.ok(script, `ENTRYPOINT runs ${pkg.bin.turnkit}`);
  const appRoot = script ? script.slice(0, -pkg.bin.turnkit!.length) : '/app/';

  const copies = copiesFrom(runtime.ins, build.name!, buildDir);
  const dist = pkg.files.filter((f) => f === 'dist' || f.startsWith('dist/'));
  t.ok(dist.length >= 4, `package.json files lists ${dist.join(', ')}`);
  for (const f of dist) {
    const built = posix.join(buildDir, f);
    const wanted = posix.join(appRoot, f);
    // Covered by a COPY of the entry itself or of a directory above it, to the matching place.
    const ok = copies.some(
      (c) => (built === c.src || built.startsWith(`${c.src}/`)) && posix.join(c.dest, posix.relative(c.src, built)) === wanted,
    );
    t.ok(ok, `${f}: COPY --from=${build.name} ${built} ${wanted} in the runtime stage (the npm package ships it, so the server expects it)`);
  }
});

/** The allow-list of Dockerfile.dockerignore: the `!name` lines, without a trailing slash. */
function dockerignoreAllowed(): { lines: string[]; allowed: string[] } {
  const lines = read('deploy/docker/Dockerfile.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  return { lines, allowed: lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, '')) };
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

t.test('docs/operations.md names everything Dockerfile.dockerignore sends', async (t) => {
  const { lines, allowed } = dockerignoreAllowed();
  t.equal(lines[0], '*', 'allow-list: everything else stays out');
  const para = read('docs/operations.md')
    .split(/\n\s*\n/)
    .find((p) => p.includes('Dockerfile.dockerignore'));
  t.ok(para, 'docs/operations.md describes Dockerfile.dockerignore');
  for (const a of allowed) {
    t.match(para ?? '', new RegExp(`\`${escapeRegExp(a)}/?\``), `names \`${a}\`, which the build context includes`);
  }
});

/** `docker run` commands in a text: comment markers dropped, continuation lines joined. */
function dockerRuns(text: string, comments: boolean): string[] {
  const lines = text.split('\n').map((l) => (comments ? l.replace(/^#\s?/, '') : l));
  const joined = lines.join('\n').replace(/\\\n\s*/g, ' ');
  return [...joined.matchAll(/docker run\b[^\n]*/g)].map((m) => m[0]);
}

t.test('Docker commands that use /etc/turnkit mount it and join the turnkit-keys group', async (t) => {
  // The systemd install steps make the secret 0640 root:turnkit-keys; the image runs as uid 1000.
  t.match(read(UNIT), /chgrp turnkit-keys \/etc\/turnkit\/secret/, 'the install steps make the secret group turnkit-keys');
  t.match(read(UNIT), /umask 027/, 'with no access for others');
  const user = parseDockerfile(read(DOCKERFILE))
    .filter((i) => i.cmd === 'USER')
    .pop()
    ?.args.split(':')[0];
  t.not(user, '0', 'the image does not run as root, so it needs the group');
  const sources = [
    { where: 'docs/operations.md', runs: dockerRuns(read('docs/operations.md'), false) },
    { where: DOCKERFILE, runs: dockerRuns(read(DOCKERFILE), true) },
  ];
  for (const { where, runs } of sources) {
    const using = runs.filter((r) => r.includes('/etc/turnkit'));
    t.ok(using.length >= 3, `${where}: ${using.length} docker run commands use /etc/turnkit`);
    for (const r of using) {
      t.match(r, /\s-v \/etc\/turnkit:\/etc\/turnkit:ro\s/, `${where}: mounts /etc/turnkit read-only: ${r}`);
      // A group name would be looked up in the image's /etc/group: it must be the host's GID.
      t.match(r, /\s--group-add "\$\(getent group turnkit-keys \| cut -d: -f3\)"\s/, `${where}: --group-add the host's turnkit-keys GID: ${r}`);
    }
  }
});

t.test('Dockerfile HEALTHCHECK: node fetches /healthz; exit 0 when healthy, 1 otherwise', async (t) => {
  const ins = parseDockerfile(read(DOCKERFILE));
  const hc = ins.filter((i) => i.cmd === 'HEALTHCHECK').pop();
  t.ok(hc, 'has a HEALTHCHECK');
  const argv = execForm(hc!.args.replace(/^(--\S+\s+)*CMD\s+/, ''));
  t.ok(argv, 'exec form');
  t.equal(argv![0], 'node', 'uses node (no curl in node:20-slim)');
  t.match(argv!.join(' '), /127\.0\.0\.1:8080\/healthz/, 'default URL is the default http_listen /healthz');
  const interval = /--interval=(\d+)s/.exec(hc!.args);
  t.ok(interval, 'interval set');

  // Run the same command against a local server, pointed at it with HEALTHCHECK_URL.
  let status = 200;
  const server = http.createServer((req, res) => {
    res.writeHead(req.url === '/healthz' ? status : 404).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;
  const run = (url: string) =>
    runTool(process.execPath, argv!.slice(1), { timeoutMs: 15_000, env: { ...process.env, HEALTHCHECK_URL: url } });
  t.equal((await run(`http://127.0.0.1:${port}/healthz`)).code, 0, 'healthy: exit 0');
  status = 503;
  t.equal((await run(`http://127.0.0.1:${port}/healthz`)).code, 1, '503: exit 1');
  // A port nothing listens on: bind one, note it, close it.
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const closedPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  t.equal((await run(`http://127.0.0.1:${closedPort}/healthz`)).code, 1, 'nothing listening: exit 1');
});

// ---------------------------------------------------------------- docs/operations.md

t.test('docs/operations.md: names exactly the metrics the server exports; its alert rules parse', async (t) => {
  const doc = read('docs/operations.md');
  const source = walk(join(ROOT, 'src'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  const exported = new Set([...source.matchAll(/name:\s*'(turnkit_[a-z0-9_]+)'/g)].map((m) => m[1]!));
  t.ok(exported.size >= 12, `${exported.size} turnkit_* metrics in src/`);
  const documented = new Set([...doc.matchAll(/\b(turnkit_[a-z0-9_]+)/g)].map((m) => m[1]!));
  for (const m of documented) t.ok(exported.has(m), `documented ${m} exists in src/`);
  for (const m of exported) t.ok(documented.has(m), `exported ${m} is documented`);
  for (const section of ['## Behind NAT', '## Docker', '## Kubernetes', '## Scaling out', '### Measured capacity', '## Rotating secrets', '## Reading the metrics']) {
    t.ok(doc.includes(section), `has section ${section}`);
  }
  t.match(doc, /performance\.md/, 'points to the measured numbers');
  const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const rules = blocks.map((b) => YAML.parse(b) as Obj).find((b) => Array.isArray(b.groups));
  t.ok(rules, 'has a Prometheus rules block');
  const list = ((rules!.groups as Obj[])[0]!.rules as Obj[]) ?? [];
  t.ok(list.length >= 4, `${list.length} alert rules`);
  for (const r of list) {
    t.type(r.alert, 'string');
    t.type(r.expr, 'string');
    for (const m of String(r.expr).matchAll(/\b(turnkit_[a-z0-9_]+)/g)) t.ok(exported.has(m[1]!), `${String(r.alert)} uses ${m[1]}, which exists`);
    // A set operator between a raw series (instance, job, ...) and an aggregate (instance only)
    // matches nothing unless it names the labels to match on: the alert could never fire.
    for (const m of String(r.expr).matchAll(/\b(and|or|unless)\s+(\w+)/g)) {
      t.match(m[2], /^(on|ignoring)$/, `${String(r.alert)}: '${m[1]}' says which labels to match (on/ignoring)`);
    }
  }
});
