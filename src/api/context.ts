/**
 * What the auth layer attaches to every authenticated request. Route plugins read `request.tenant`; they never
 * look at credentials themselves, and every repository call they make is scoped by `request.tenant.id`.
 */
export interface TenantContext {
  id: string;
  email: string;
  /** Id of the API key used (for audit), when authenticated by key. */
  keyId?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    tenant: TenantContext;
  }
}
