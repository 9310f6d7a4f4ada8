import type { Assistant } from '../assistant.js';
import type { Store } from '../store/index.js';

/** Called number -> the assistant that answers it (media gateway, when neither the path nor the start message names one). */
export async function resolveByNumber(store: Store, number: string): Promise<Assistant | undefined> {
  const route = await store.numberRouting.resolve(number);
  if (!route) return undefined;
  return store.assistants.get(route.tenantId, route.assistantId);
}
