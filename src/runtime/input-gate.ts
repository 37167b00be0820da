// The input side of a subtask's mailbox loop: the channels it reads, the per-channel
// watermarks (an operator's watermark is the minimum over its inputs) and the mailbox of
// control actions (processing-time timers). No I/O.
import { MIN_WATERMARK, type StreamElement } from '../core/stream-elements.js';
import type { ChannelListener, LocalChannel } from './channel.js';

/** An action run by the task's loop between batches (single-threaded with record processing). */
export type Mail = () => void | Promise<void>;

/**
 * Reads the channels of one subtask round-robin, and wakes the subtask when data or mail
 * arrives. `poll()` is synchronous; the loop awaits `whenAvailable()` only when nothing is
 * ready, so a busy subtask does not pay a promise per batch.
 */
export class InputGate implements ChannelListener {
  private readonly channelWatermarks: number[];
  private readonly ended: boolean[];
  private endedCount = 0;
  private next = 0;
  private mails: Mail[] = [];
  private waiter: (() => void) | undefined;
  private cancelled = false;
  /** Channels held back while a checkpoint's barriers are aligned (exactly-once). */
  private readonly blocked: boolean[];
  private blockedCount = 0;
  /** Index of the channel the last polled element came from. */
  lastChannel = -1;

  constructor(readonly channels: LocalChannel[]) {
    this.channelWatermarks = channels.map(() => MIN_WATERMARK);
    this.ended = channels.map(() => false);
    this.blocked = channels.map(() => false);
    for (const channel of channels) channel.setListener(this);
  }

  onAvailable(): void {
    const wake = this.waiter;
    if (wake !== undefined) {
      this.waiter = undefined;
      wake();
    }
  }

  /** Queues an action for the loop and wakes it. */
  putMail(mail: Mail): void {
    this.mails.push(mail);
    this.onAvailable();
  }

  takeMails(): Mail[] | undefined {
    if (this.mails.length === 0) return undefined;
    const mails = this.mails;
    this.mails = [];
    return mails;
  }

  get hasMail(): boolean {
    return this.mails.length > 0;
  }

  /** The next element of any channel, or undefined when none is ready. */
  poll(): StreamElement | undefined {
    const channels = this.channels;
    const n = channels.length;
    for (let tried = 0; tried < n; tried++) {
      const index = this.next;
      this.next = index + 1 === n ? 0 : index + 1;
      if (this.blockedCount !== 0 && this.blocked[index]) continue;
      const element = channels[index].poll();
      if (element !== undefined) {
        this.lastChannel = index;
        return element;
      }
    }
    return undefined;
  }

  /** Resolves when a channel has data, mail arrived, or the gate was cancelled. */
  whenAvailable(): Promise<void> {
    if (this.cancelled || this.mails.length > 0 || this.channels.some((c, i) => c.size > 0 && !this.blocked[i])) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /** Holds back a channel until `unblockAll` (its barrier arrived, others' not yet). */
  block(channel: number): void {
    if (!this.blocked[channel]) {
      this.blocked[channel] = true;
      this.blockedCount++;
    }
  }

  unblockAll(): void {
    this.blocked.fill(false);
    this.blockedCount = 0;
    this.onAvailable();
  }

  isEnded(channel: number): boolean {
    return this.ended[channel];
  }

  cancel(): void {
    this.cancelled = true;
    this.onAvailable();
  }

  get isCancelled(): boolean {
    return this.cancelled;
  }

  /**
   * Records a channel's watermark; returns the new combined watermark (minimum over channels
   * that have not ended) or undefined when it did not advance.
   */
  updateWatermark(channel: number, timestamp: number, current: number): number | undefined {
    if (timestamp > this.channelWatermarks[channel]) this.channelWatermarks[channel] = timestamp;
    return this.advancedWatermark(current);
  }

  /** Marks a channel ended; returns the combined watermark if it advanced because of it. */
  endChannel(channel: number, current: number): number | undefined {
    if (!this.ended[channel]) {
      this.ended[channel] = true;
      this.endedCount++;
    }
    return this.advancedWatermark(current);
  }

  get allEnded(): boolean {
    return this.endedCount === this.channels.length;
  }

  private advancedWatermark(current: number): number | undefined {
    if (this.endedCount === this.channels.length) return undefined;
    let min = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.channelWatermarks.length; i++) {
      if (!this.ended[i] && this.channelWatermarks[i] < min) min = this.channelWatermarks[i];
    }
    return min > current ? min : undefined;
  }
}
