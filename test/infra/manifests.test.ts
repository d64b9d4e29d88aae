/**
 * infra/: every Kubernetes manifest parses and carries what the pool needs (GPU, secrets, probes, drain time,
 * cache volume, matching labels and ports, KEDA on Prometheus), every metric the manifests name is one the GPU
 * server exports (read from the server's own registry), and the image runs the real server script with real flags.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import { PoolMetrics } from '../../backends/gpu/metrics/pool-metrics.ts';

const K8S = 'infra/k8s';
/** The metric names the GPU server must export (vLLM-compatible: dashboards and KEDA triggers rely on them). */
const REQUIRED_METRICS = [
  'vllm:num_requests_waiting',
  'vllm:num_requests_running',
  'vllm:time_to_first_token_seconds',
  'vllm:e2e_request_latency_seconds',
  'vllm:prompt_tokens_total',
  'vllm:generation_tokens_total',
  'vllm:diffusion_num_denoising_steps_total',
  'vllm:diffusion_num_committed_tokens_total',
];

// Loose shapes: the test checks fields, and a missing one fails an assertion rather than the type checker.
type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Manifest {
  file: string;
  text: string;
  docs: Doc[];
}

async function loadManifests(): Promise<Manifest[]> {
  const files = (await readdir(K8S))
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort();
  return Promise.all(
    files.map(async (file) => {
      const text = await readFile(join(K8S, file), 'utf8');
      const docs = parseAllDocuments(text)
        .map((d) => {
          assert.deepEqual(d.errors.map(String), [], `${file}: YAML errors`);
          return d.toJSON() as Doc;
        })
        .filter((d) => d !== null);
      return { file, text, docs };
    }),
  );
}

/** Metric names served by backends/gpu (the server's registry, rendered). */
function serverMetricNames(): Set<string> {
  return new Set(
    new PoolMetrics()
      .render()
      .split('\n')
      .filter((l) => l.startsWith('# TYPE '))
      .map((l) => l.split(' ')[2]),
  );
}

/** vllm:* and unmask_* names in a text, histogram series suffixes folded into their family. */
function metricNamesIn(text: string): string[] {
  const names = text.match(/\b(?:vllm:[a-z_:]*[a-z]|unmask_[a-z_]*[a-z])\b/g) ?? [];
  return [...new Set(names.map((n) => n.replace(/_(bucket|sum|count)$/, '')))];
}

/** Long flags scripts/serve-gpu.ts accepts (its parseFlags spec). */
async function serverFlags(): Promise<Set<string>> {
  const src = await readFile('scripts/serve-gpu.ts', 'utf8');
  return new Set(
    [...src.matchAll(/^\s+'?([a-z][a-z-]*)'?: \{ type: '(?:string|boolean)'/gm)].map(
      (m) => `--${m[1]}`,
    ),
  );
}

describe('infra/k8s manifests', async () => {
  const manifests = await loadManifests();
  const all = manifests.flatMap((m) => m.docs.map((doc) => ({ file: m.file, doc })));
  const one = (kind: string) => {
    const found = all.filter((d) => d.doc.kind === kind && !d.file.includes('example'));
    assert.equal(found.length, 1, `exactly one ${kind}`);
    return found[0].doc;
  };

  test('every document parses and has apiVersion, kind, metadata.name; kustomization lists every resource file', async () => {
    assert.ok(manifests.length >= 6);
    for (const { file, doc } of all) {
      assert.equal(typeof doc.apiVersion, 'string', `${file}: apiVersion`);
      assert.equal(typeof doc.kind, 'string', `${file}: kind`);
      if (doc.kind !== 'Kustomization')
        assert.equal(typeof doc.metadata?.name, 'string', `${file}: metadata.name`);
    }
    const kustomization = one('Kustomization');
    const resources = kustomization.resources as string[];
    const files = manifests
      .map((m) => m.file)
      .filter((f) => f !== 'kustomization.yaml' && !f.includes('example'));
    assert.deepEqual(
      [...resources].sort(),
      files.sort(),
      'kustomization.yaml resources = the manifest files (templates excluded)',
    );
  });

  test('Deployment: one GPU, secrets from a Secret, probes, drain time, cache volume, labels', async () => {
    const dep = one('Deployment');
    const pod = dep.spec.template.spec;
    const labels = dep.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(dep.spec.selector.matchLabels))
      assert.equal(labels[k], v, 'selector matches the pod labels');
    assert.equal(dep.spec.replicas, undefined, 'KEDA owns replicas');
    assert.equal(pod.containers.length, 1);
    const c = pod.containers[0];
    assert.equal(String(c.resources.limits['nvidia.com/gpu']), '1');
    assert.equal(String(c.resources.requests['nvidia.com/gpu']), '1');
    const fromSecret = (name: string) =>
      c.env.find((e: Doc) => e.name === name)?.valueFrom?.secretKeyRef;
    for (const name of ['GPU_POOL_SECRET', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
      assert.ok(fromSecret(name)?.name && fromSecret(name)?.key === name, `${name} from a Secret`);
    }
    const port = c.ports.find((p: Doc) => p.name === 'http');
    assert.ok(port, 'a port named http');
    const probePort = (probe: Doc) =>
      probe.httpGet.port === 'http' ? port.containerPort : probe.httpGet.port;
    assert.equal(c.readinessProbe.httpGet.path, '/health');
    assert.equal(probePort(c.readinessProbe), port.containerPort);
    assert.equal(c.startupProbe.httpGet.path, '/health');
    assert.ok(
      c.startupProbe.periodSeconds * c.startupProbe.failureThreshold >= 600,
      'time to download and load a big model',
    );
    assert.ok(c.livenessProbe.httpGet, 'liveness');
    assert.notEqual(
      c.livenessProbe.httpGet.path,
      '/health',
      'liveness must not fail while loading or draining',
    );
    // Drain: the grace period covers the server's --drain-timeout plus the preStop pause.
    const args: string[] = c.args ?? [];
    const drainS = Number(args[args.indexOf('--drain-timeout') + 1] ?? 600);
    const preStopS = Number(c.lifecycle?.preStop?.exec?.command?.[1] ?? 0);
    assert.ok(
      pod.terminationGracePeriodSeconds > drainS + preStopS,
      `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} > drain ${drainS} + preStop ${preStopS}`,
    );
    // The cache dir (from the ConfigMap or env) is a mounted volume.
    const config = one('ConfigMap');
    assert.ok(
      c.envFrom.some((e: Doc) => e.configMapRef?.name === config.metadata.name),
      'env from the ConfigMap',
    );
    const cacheDir =
      config.data.UNMASK_CACHE_DIR ?? c.env.find((e: Doc) => e.name === 'UNMASK_CACHE_DIR')?.value;
    const mount = c.volumeMounts.find((m: Doc) => m.mountPath === cacheDir);
    assert.ok(mount, `a volume mounted at UNMASK_CACHE_DIR (${cacheDir})`);
    assert.ok(pod.volumes.some((v: Doc) => v.name === mount.name));
    assert.match(config.data.MODEL_LOCATION, /^(s3:\/\/|\/)/);
    // Every flag passed to the server exists.
    const flags = await serverFlags();
    for (const a of args.filter((x) => x.startsWith('--')))
      assert.ok(flags.has(a), `serve-gpu accepts ${a}`);
    assert.equal(
      dep.spec.template.metadata.annotations['prometheus.io/port'],
      String(port.containerPort),
    );
  });

  test('Service and ServiceMonitor select the pods and the metrics port', () => {
    const dep = one('Deployment');
    const svc = one('Service');
    const podLabels = dep.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(svc.spec.selector))
      assert.equal(podLabels[k], v, `Service selector ${k}`);
    const containerPorts = dep.spec.template.spec.containers[0].ports.map((p: Doc) => p.name);
    for (const p of svc.spec.ports)
      assert.ok(
        containerPorts.includes(p.targetPort),
        `targetPort ${p.targetPort} is a container port`,
      );
    const sm = one('ServiceMonitor');
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels))
      assert.equal(svc.metadata.labels[k], v, `ServiceMonitor selects the Service (${k})`);
    assert.ok(
      sm.spec.endpoints.every(
        (e: Doc) => svc.spec.ports.some((p: Doc) => p.name === e.port) && e.path === '/metrics',
      ),
    );
  });

  test('KEDA ScaledObject: Prometheus triggers on vllm:num_requests_waiting, bounds, target', () => {
    const so = one('ScaledObject');
    assert.match(so.apiVersion, /^keda\.sh\//);
    assert.equal(so.spec.scaleTargetRef.name, one('Deployment').metadata.name);
    assert.ok(
      so.spec.minReplicaCount >= 0 &&
        so.spec.maxReplicaCount >= Math.max(1, so.spec.minReplicaCount),
    );
    assert.ok(so.spec.triggers.length >= 1);
    for (const t of so.spec.triggers) {
      assert.equal(t.type, 'prometheus');
      assert.match(t.metadata.serverAddress, /^https?:\/\//);
      assert.ok(Number(t.metadata.threshold) > 0, 'threshold');
      assert.equal(typeof t.metadata.query, 'string');
    }
    assert.ok(
      so.spec.triggers.some((t: Doc) =>
        metricNamesIn(t.metadata.query).includes('vllm:num_requests_waiting'),
      ),
      'scales on the queue depth',
    );
    // The query's label selectors match what the ServiceMonitor scrape attaches (namespace and service).
    const svc = one('Service');
    for (const t of so.spec.triggers) {
      assert.ok(
        t.metadata.query.includes(`namespace="${svc.metadata.namespace}"`) &&
          t.metadata.query.includes(`service="${svc.metadata.name}"`),
      );
    }
  });

  test('every metric name in the manifests and the infra README is one the GPU server exports', async () => {
    const exported = serverMetricNames();
    for (const name of REQUIRED_METRICS)
      assert.ok(exported.has(name), `the server exports ${name}`);
    const texts = [
      ...manifests.map((m) => ({ file: m.file, text: m.text })),
      { file: 'README.md', text: await readFile('infra/README.md', 'utf8') },
    ];
    let checked = 0;
    for (const { file, text } of texts) {
      for (const name of metricNamesIn(text)) {
        assert.ok(
          exported.has(name),
          `${file} names ${name}, which the server does not export (it has: ${[...exported].join(', ')})`,
        );
        checked++;
      }
    }
    assert.ok(checked >= 2);
  });
});

describe('infra/gpu image', () => {
  test('CUDA 12 runtime, Node 20, npm ci with the CUDA 12 EP, runs serve:gpu with real flags', async () => {
    const docker = await readFile('infra/gpu/Dockerfile', 'utf8');
    const entry = await readFile('infra/gpu/entrypoint.sh', 'utf8');
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as {
      scripts: Record<string, string>;
    };
    assert.match(docker, /^FROM nvidia\/cuda:12\.[\d.]+-cudnn-runtime-ubuntu\d+\.\d+$/m);
    assert.match(docker, /^ARG NODE_VERSION=20\./m);
    assert.match(docker, /ONNXRUNTIME_NODE_INSTALL=cuda12/);
    assert.match(docker, /RUN npm ci\b/);
    assert.match(docker, /^EXPOSE 8000$/m);
    assert.match(docker, /COPY infra\/gpu\/entrypoint\.sh /);
    assert.match(entry, /exec node --import tsx scripts\/serve-gpu.ts "\$@"/);
    assert.match(entry, /--model "\$MODEL_LOCATION" --providers "\$\{PROVIDERS:-cuda,cpu\}"/);
    assert.ok(pkg.scripts['serve:gpu'], 'package.json has serve:gpu');
    const flags = await serverFlags();
    const passed =
      entry
        .split('\n')
        .filter((l) => /\bset -- /.test(l))
        .join(' ')
        .match(/--[a-z][a-z-]+/g) ?? ([] as string[]);
    assert.ok(passed.includes('--model') && passed.includes('--providers'));
    for (const flag of new Set(passed)) assert.ok(flags.has(flag), `serve-gpu accepts ${flag}`);
    for (const dir of ['src', 'backends', 'scripts'])
      assert.match(docker, new RegExp(`^COPY ${dir} \\./${dir}$`, 'm'));
  });
});

describe('infra/api image', () => {
  test('Node 20, CPU onnxruntime, a data volume, runs serve:api with flags serve-api accepts', async () => {
    const docker = await readFile('infra/api/Dockerfile', 'utf8');
    const entry = await readFile('infra/api/entrypoint.sh', 'utf8');
    assert.match(docker, /^FROM node:20[\w.-]*$/m);
    assert.doesNotMatch(docker, /ONNXRUNTIME_NODE_INSTALL=cuda/);
    assert.match(docker, /RUN npm ci\b/);
    assert.match(docker, /^VOLUME \["\/var\/lib\/unmask"\]$/m);
    assert.match(docker, /^EXPOSE 8787$/m);
    assert.match(docker, /HEALTHCHECK .*\/health/);
    assert.match(entry, /exec node --import tsx scripts\/serve-api.ts "\$@"/);
    for (const dir of ['src', 'backends', 'scripts', 'assets'])
      assert.match(docker, new RegExp(`^COPY ${dir} \\./${dir}$`, 'm'));
    // Every flag the entrypoint passes parses: serve-api exits 0 on --help only when all flags are known.
    const passed = [
      ...new Set(
        entry
          .split('\n')
          .filter((l) => /\bset -- /.test(l))
          .join(' ')
          .match(/--[a-z][a-z-]+/g) ?? [],
      ),
    ];
    assert.ok(passed.includes('--data') && passed.includes('--port') && passed.includes('--model'));
    const args = passed.flatMap((f) => [f, f === '--port' ? '8787' : 'x']);
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'scripts/serve-api.ts', ...args, '--help'],
        { stdio: 'ignore' },
      );
      child.on('close', resolve);
    });
    assert.equal(code, 0, `serve-api accepts ${passed.join(' ')}`);
  });
});
