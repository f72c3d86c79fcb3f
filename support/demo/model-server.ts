// An Open Inference Protocol (KServe v2) server for one trained demo model: what KServe, Triton or
// MLServer would be in production. Input: one FP32 tensor of the four features, shape [1, 4].
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { z } from 'zod';
import { FEATURES } from './penguins';
import type { TrainedModel } from './softmax';

const InferRequest = z.object({
  id: z.string().optional(),
  inputs: z
    .array(z.object({ name: z.string(), shape: z.array(z.number().int()), datatype: z.string(), data: z.array(z.number()).length(FEATURES.length) }))
    .min(1),
});

export interface ModelServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Posts each answer to an inference log as KServe's inference logger does (CloudEvents, binary mode, the
 * request's x-request-id in ce-metadata), after the answer has left: the served path never waits on it.
 */
function logAnswer(logTo: string, requestId: string | undefined, answer: string): void {
  void fetch(logTo, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-type': 'org.kubeflow.serving.inference.response',
      'ce-id': randomUUID(),
      'ce-source': 'model-rollout-demo',
      'ce-metadata': JSON.stringify({ 'x-request-id': [requestId ?? ''] }),
    },
    body: answer,
    signal: AbortSignal.timeout(2_000),
  }).catch(() => undefined);
}

export async function serveModel(name: string, version: string, model: TrainedModel, port = 0, logTo?: string): Promise<ModelServer> {
  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const url = req.url ?? '/';
    if (req.method === 'GET' && (url === '/v2/health/ready' || url === '/v2/health/live' || url === `/v2/models/${name}/ready`)) return send(200, { ready: true });
    if (req.method === 'GET' && url === `/v2/models/${name}`) {
      return send(200, { name, versions: [version], platform: 'model-rollout-demo', inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, FEATURES.length] }], outputs: [{ name: 'species', datatype: 'BYTES', shape: [-1] }] });
    }
    if (req.method !== 'POST' || !url.startsWith(`/v2/models/${name}/infer`)) return send(404, { error: `no route ${req.method} ${url}` });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: z.infer<typeof InferRequest>;
      try {
        body = InferRequest.parse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        return send(400, { error: `bad request: ${(err as Error).message.slice(0, 200)}` });
      }
      const species = model.predict((body.inputs[0] as { data: number[] }).data);
      const answer = { model_name: name, model_version: version, id: body.id, outputs: [{ name: 'species', shape: [1], datatype: 'BYTES', data: [species] }] };
      send(200, answer);
      if (logTo) logAnswer(logTo, req.headers['x-request-id'] as string | undefined, JSON.stringify(answer));
    });
  });
  // Behind a proxy that pools connections, idle sockets should outlive the proxy's reuse of them.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    // Envoy keeps pooled keep-alive connections open to its upstreams: close them too, or close() waits on them.
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
