import { EventEmitter } from 'node:events';
import type { ControlChannel, ControlMessage } from './types.js';

/** Control messages within one process (the embedded SQLite store: one engine, every call is local). */
export function localControl(): ControlChannel {
  const bus = new EventEmitter();
  bus.setMaxListeners(0);
  return {
    async publish(msg) {
      bus.emit(msg.to, msg);
    },
    async subscribe(engineId, handler: (msg: ControlMessage) => void) {
      bus.on(engineId, handler);
      return async () => {
        bus.off(engineId, handler);
      };
    },
  };
}
