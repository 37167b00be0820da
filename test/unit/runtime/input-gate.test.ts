import { describe, expect, it } from 'vitest';
import { END_OF_INPUT, watermark } from '../../../src/core/stream-elements.js';
import { LocalChannel } from '../../../src/runtime/channel.js';
import { InputGate } from '../../../src/runtime/input-gate.js';

describe('InputGate watermarks', () => {
  it('advances the combined watermark only to the minimum over its channels', () => {
    const a = new LocalChannel(4, 'a');
    const b = new LocalChannel(4, 'b');
    const gate = new InputGate([a, b]);
    expect(gate.updateWatermark(0, 100, -Infinity)).toBeUndefined(); // b is still at -Infinity
    expect(gate.updateWatermark(1, 50, -Infinity)).toBe(50);
    expect(gate.updateWatermark(1, 200, 50)).toBe(100);
    expect(gate.updateWatermark(0, 90, 100)).toBeUndefined(); // watermarks never go back
  });

  it('ignores ended channels when combining watermarks', () => {
    const gate = new InputGate([new LocalChannel(4, 'a'), new LocalChannel(4, 'b')]);
    gate.updateWatermark(0, 10, -Infinity);
    expect(gate.endChannel(1, -Infinity)).toBe(10);
    expect(gate.allEnded).toBe(false);
    gate.endChannel(0, 10);
    expect(gate.allEnded).toBe(true);
  });

  it('polls channels round-robin and remembers where an element came from', () => {
    const a = new LocalChannel(4, 'a');
    const b = new LocalChannel(4, 'b');
    const gate = new InputGate([a, b]);
    a.push(watermark(1));
    a.push(watermark(2));
    b.push(END_OF_INPUT);
    const seen: Array<[number, string]> = [];
    for (let e = gate.poll(); e !== undefined; e = gate.poll()) seen.push([gate.lastChannel, e.kind]);
    expect(seen).toEqual([
      [0, 'watermark'],
      [1, 'end'],
      [0, 'watermark'],
    ]);
  });

  it('wakes a waiting loop when data or mail arrives', async () => {
    const a = new LocalChannel(4, 'a');
    const gate = new InputGate([a]);
    const waiting = gate.whenAvailable();
    a.push(watermark(5));
    await waiting;
    expect(gate.poll()).toEqual(watermark(5));
    const waitingForMail = gate.whenAvailable();
    let ran = false;
    gate.putMail(() => {
      ran = true;
    });
    await waitingForMail;
    for (const mail of gate.takeMails() ?? []) mail();
    expect(ran).toBe(true);
  });
});

describe('LocalChannel', () => {
  it('reports full at capacity and releases a waiting producer when drained', async () => {
    const c = new LocalChannel(2, 'c');
    c.push(watermark(1));
    expect(c.isFull()).toBe(false);
    c.push(watermark(2));
    expect(c.isFull()).toBe(true);
    let released = false;
    const w = c.whenWritable().then(() => {
      released = true;
    });
    await Promise.resolve();
    expect(released).toBe(false);
    c.poll();
    await w;
    expect(released).toBe(true);
  });
});
