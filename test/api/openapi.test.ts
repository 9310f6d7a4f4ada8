import SwaggerParser from '@apidevtools/swagger-parser';
import type { OpenAPIV3 } from 'openapi-types';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Harness, startHarness } from './harness.js';

let h: Harness;
let doc: OpenAPIV3.Document;
beforeAll(async () => {
  h = await startHarness();
  doc = (await h.call('GET', '/openapi.json')).body;
});
afterAll(async () => h.close());

/** The routes issue 7 asks for, in OpenAPI path syntax. */
const REQUIRED = [
  'post /api/v1/auth/portal/login',
  'get /api/v1/assistants',
  'post /api/v1/assistants',
  'get /api/v1/assistants/{assistantApiKey}',
  'patch /api/v1/assistants/{assistantApiKey}',
  'delete /api/v1/assistants/{assistantApiKey}',
  'get /api/v1/assistants/{assistantApiKey}/prompt',
  'patch /api/v1/assistants/{assistantApiKey}/prompt',
  ...[
    'settings',
    'tts',
    'asr',
    'llm',
    'dtmf',
    'rag',
    'tools',
    'hangup',
    'hangup/save-conversation',
    'hangup/schema',
    'precall/number-validation',
    'precall/mcp-config',
  ].flatMap((b) => [
    `get /api/v1/assistants/{assistantApiKey}/runtime/${b}`,
    `patch /api/v1/assistants/{assistantApiKey}/runtime/${b}`,
  ]),
  'get /api/v1/catalog/providers/{kind}',
  'get /api/v1/catalog/providers/tts/voices',
  'get /api/v1/catalog/providers/{kind}/models',
  'get /api/v1/catalog/assistants/{assistantApiKey}/asr/models',
  'get /api/v1/catalog/assistants/{assistantApiKey}/tools',
  'get /api/v1/catalog/assistants/{assistantApiKey}/pre-call',
  'get /api/v1/catalog/tools',
  'get /api/v1/catalog/hangup',
  'get /api/v1/account/allowed-ips',
  'put /api/v1/account/allowed-ips',
  'get /api/v1/account/call-limits',
  'put /api/v1/account/call-limits',
  'get /api/v1/account/number-routing',
  'put /api/v1/account/number-routing',
  'get /api/v1/account/plugins/available',
  'get /api/v1/account/plugins/instances',
  'get /api/v1/account/plugins/configuration/{pluginId}',
  'put /api/v1/account/plugins/configuration/{pluginId}',
  'post /api/v1/account/plugins/purchase',
  'post /webhook/outbound_call',
  'post /webhook/outbound_call_pbx',
  'post /api/v1/calls/initiate',
  'get /api/v1/calls',
  'get /api/v1/calls/{callId}',
  'get /api/v1/calls/{callId}/recording',
  'post /api/v1/whatsapp/send',
  ...['calls', 'calls-outbound', 'recharges', 'rag', 'sms', 'tool-responses', 'pre-call'].map(
    (k) => `get /api/v1/account/analytics/${k}`,
  ),
  'get /api/v1/webhooks',
  'post /api/v1/webhooks',
  'get /api/v1/webhooks/{id}',
  'patch /api/v1/webhooks/{id}',
  'delete /api/v1/webhooks/{id}',
  'get /api/v1/webhooks/{id}/deliveries',
  'get /api/v1/admin/tenants',
  'post /api/v1/admin/tenants',
  'get /health',
];

it('is a valid OpenAPI 3 document', async () => {
  expect(doc.openapi).toMatch(/^3\./);
  await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
});

it('covers every required route, each with response schemas and parameter schemas', () => {
  const ops: string[] = [];
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const m of ['get', 'post', 'put', 'patch', 'delete'] as const) {
      const op = item?.[m];
      if (!op) continue;
      ops.push(`${m} ${p}`);
      expect(Object.keys(op.responses ?? {}).length, `${m} ${p}`).toBeGreaterThan(0);
      for (const name of p.match(/\{(\w+)\}/g) ?? []) {
        const params = (op.parameters ?? []) as OpenAPIV3.ParameterObject[];
        expect(
          params.some((x) => x.in === 'path' && `{${x.name}}` === name),
          `${m} ${p} ${name}`,
        ).toBe(true);
      }
      if (m === 'post' || m === 'put' || m === 'patch') {
        expect(op.requestBody, `${m} ${p} body schema`).toBeDefined();
      }
    }
  }
  expect(REQUIRED.filter((r) => !ops.includes(r))).toEqual([]);
});

it('serves YAML and the Swagger UI', async () => {
  const y = await h.call('GET', '/openapi.yaml');
  expect(y.status).toBe(200);
  expect(y.headers.get('content-type')).toContain('yaml');
  expect(String(y.body)).toContain('openapi: 3.');
  const ui = await fetch(`${h.url}/docs`);
  expect(ui.status).toBe(200);
  expect(ui.headers.get('content-type')).toContain('text/html');
  expect(await ui.text()).toContain('swagger');
});

it('documents the error shape and the webhook signature', () => {
  expect(doc.info.description).toContain('X-Webhook-Signature');
  const r = doc.paths['/api/v1/assistants']?.get?.responses?.['4XX'] as OpenAPIV3.ResponseObject | undefined;
  expect(JSON.stringify(r)).toContain('"code"');
});
