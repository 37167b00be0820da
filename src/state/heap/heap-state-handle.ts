// What every heap state handle shares: the current key (read from the backend's key context),
// the current namespace's map, and TTL cleanup on access. No I/O.
import type { KeyId } from '../../core/key-encoding.js';
import { VOID_NAMESPACE, type InternalKvState, type Namespace } from '../keyed-state-backend.js';
import type { IncrementalCleanup, TtlPolicy } from '../ttl/ttl-support.js';
import type { StateTable } from './state-table.js';

/** The backend's current key, shared by every handle (single-threaded, so a plain object). */
export interface KeyContext {
  key: unknown;
  id: KeyId;
  /** -1 until computed for the current key. */
  keyGroup: number;
}

export class HeapStateHandle<S> implements InternalKvState {
  protected namespace: Namespace = VOID_NAMESPACE;
  protected map: Map<KeyId, S>;
  /** Set by the backend when the state has TTL with incremental cleanup. */
  cleanup: IncrementalCleanup<S> | undefined;

  constructor(
    protected readonly ctx: KeyContext,
    readonly table: StateTable<S>,
    protected readonly ttl: TtlPolicy | undefined,
  ) {
    this.map = table.mapOf(VOID_NAMESPACE);
  }

  setCurrentNamespace(namespace: Namespace): void {
    if (namespace === this.namespace) return;
    this.namespace = namespace;
    this.map = this.table.mapOf(namespace);
  }

  /** Called first by every operation: keeps running snapshots consistent (copy on first access). */
  protected access(): void {
    if (this.table.snapshots.length !== 0) this.table.copyOnAccess(this.namespace, this.map, this.ctx.id);
  }

  /** Removes the current key's entry (and an emptied non-void namespace map). */
  protected removeCurrent(): void {
    this.access();
    this.map.delete(this.ctx.id);
    if (this.map.size === 0 && this.namespace !== VOID_NAMESPACE) {
      this.table.releaseIfEmpty(this.namespace, this.map);
      this.map = this.table.mapOf(this.namespace);
    }
  }

  /** Re-fetches the namespace map when cleanup released it meanwhile. */
  protected touch(): void {
    this.access();
    if (this.cleanup !== undefined) {
      this.cleanup.run();
      if (this.table.namespaces.get(this.namespace) !== this.map) this.map = this.table.mapOf(this.namespace);
    }
  }
}
