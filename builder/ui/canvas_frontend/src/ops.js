// The queue of edits the person made, waiting for Python to acknowledge them.
//
// Every edit gets the next sequence number and is sent with all the edits Python has not
// acknowledged yet (Python applies those with a number above the last one it applied), so
// an edit is never lost when two land between Python runs. A new mount is a new session.

export function newQueue() {
  return {
    session: Math.random().toString(36).slice(2, 10) + Date.now().toString(36),
    seq: 0,
    pending: [],
  };
}

export function acknowledge(queue, ack) {
  if (ack && ack.session === queue.session) {
    queue.pending = queue.pending.filter((op) => op.seq > ack.seq);
  }
}

// Each op names the design it was made on, so an op still on its way when another design
// is opened is not applied to that one.
export function push(queue, op, setStateValue, design) {
  queue.seq += 1;
  queue.pending = [...queue.pending, { ...op, seq: queue.seq, design }];
  setStateValue("edits", { session: queue.session, ops: queue.pending });
}

export function edgeId(source, target, handle) {
  return `${source}->${target}:${handle}`;
}
