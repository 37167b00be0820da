// The base of exactly-once sinks (Flink's TwoPhaseCommitSinkFunction): records go into a
// transaction; at each checkpoint's snapshot the transaction is pre-committed and kept as pending
// in operator state; when the checkpoint completes every pending transaction up to it is
// committed; after a restore, the restored pending transactions are committed (their checkpoint
// completed) and anything else is aborted. Commits must be idempotent. Without checkpointing the
// one transaction is committed at end of input.
import { ListStateDescriptor } from '../../state/descriptors.js';
import type { ListState } from '../../state/state.js';
import type {
  CheckpointListener,
  CheckpointedFunction,
  FunctionInitializationContext,
  FunctionSnapshotContext,
  RuntimeContext,
  SinkFunction,
} from '../../runtime/functions.js';

interface PendingTransaction<TXN> {
  checkpointId: number;
  transaction: TXN;
}

/** What a transactional sink implements; TXN must be plain data (it is stored in checkpoints). */
export abstract class TwoPhaseCommitSink<T, TXN> implements SinkFunction<T>, CheckpointedFunction, CheckpointListener {
  private current: TXN | undefined;
  private pending: PendingTransaction<TXN>[] = [];
  private state: ListState<PendingTransaction<TXN>> | undefined;
  private context: RuntimeContext | undefined;
  private checkpointing = true;

  /** Starts a new transaction. */
  protected abstract beginTransaction(ctx: RuntimeContext): TXN | Promise<TXN>;
  /** Adds one record to the open transaction (synchronous: buffer it). */
  protected abstract write(transaction: TXN, value: T, timestamp: number | undefined): void;
  /** Writes what is buffered (between batches; optional). */
  protected flushTransaction(_transaction: TXN): void | Promise<void> {}
  /** Makes the transaction durable but not visible (flush, fsync); it belongs to checkpoint `checkpointId`. */
  protected abstract preCommit(transaction: TXN, checkpointId: number): Promise<void>;
  /** Makes the transaction visible. Must be idempotent: it may run again after a restore. */
  protected abstract commit(transaction: TXN): Promise<void>;
  /** Throws the transaction away. Must tolerate a transaction that never got data. */
  protected abstract abort(transaction: TXN): Promise<void>;

  /** Removes what transactions of an earlier, failed run left behind (optional). */
  protected abortLeftovers(_ctx: RuntimeContext, _keep: TXN[]): void | Promise<void> {}

  async open(ctx: RuntimeContext): Promise<void> {
    this.context = ctx;
    await this.abortLeftovers(ctx, this.pending.map((p) => p.transaction));
    if (this.current === undefined) this.current = await this.beginTransaction(ctx);
  }

  async initializeState(ctx: FunctionInitializationContext): Promise<void> {
    this.checkpointing = ctx.isCheckpointingEnabled();
    this.state = ctx.getOperatorStateStore().getListState(new ListStateDescriptor<PendingTransaction<TXN>>('two-phase-commit-pending'));
    if (!ctx.isRestored()) return;
    // Restored from a completed checkpoint: what it recorded as pending was pre-committed in it.
    for (const p of this.state.get()) await this.commit(p.transaction);
    this.state.clear();
  }

  invoke(value: T, timestamp: number | undefined): void {
    this.write(this.current as TXN, value, timestamp);
  }

  async flush(endOfInput: boolean): Promise<void> {
    if (this.current === undefined) return;
    if (endOfInput && !this.checkpointing) {
      // No checkpoint will ever commit: the end of a bounded input is the only commit point
      // (checkpoint id 0). A job that fails before it commits nothing, as in Flink.
      const txn = this.current;
      this.current = undefined;
      await this.preCommit(txn, 0);
      await this.commit(txn);
      return;
    }
    await this.flushTransaction(this.current);
  }

  async snapshotState(ctx: FunctionSnapshotContext): Promise<void> {
    const txn = this.current as TXN;
    await this.preCommit(txn, ctx.getCheckpointId());
    this.pending.push({ checkpointId: ctx.getCheckpointId(), transaction: txn });
    this.current = await this.beginTransaction(this.context as RuntimeContext);
    this.state?.update(this.pending);
  }

  async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    // Subsuming contract: commit everything up to this checkpoint, in order.
    const due = this.pending.filter((p) => p.checkpointId <= checkpointId);
    for (const p of due) await this.commit(p.transaction);
    this.pending = this.pending.filter((p) => p.checkpointId > checkpointId);
  }

  async notifyCheckpointAborted(): Promise<void> {
    // Pending transactions stay pending: a later checkpoint's completion commits them.
  }

  async close(): Promise<void> {
    // The open transaction was never pre-committed in a completed checkpoint: drop it.
    if (this.current !== undefined) await this.abort(this.current);
    this.current = undefined;
  }
}
