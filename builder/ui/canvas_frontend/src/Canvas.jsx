// The canvas: React Flow 12 with our layer nodes, the palette, our context menu, the
// keyboard shortcuts, auto-layout, and the edit queue to Python.
//
// The browser owns the live graph while the person edits: every drag, connection,
// deletion or drop shows at once and is queued for Python (ops.js). Python keeps the
// design and answers with the analysis (faces), which the nodes draw from a context,
// and replaces the drawn graph only when it bumps `rev` (open, undo, add, layout...).
import React, { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import {
  Background, Controls, MarkerType, MiniMap, Panel, ReactFlow, getNodesBounds,
  useEdgesState, useNodesInitialized, useNodesState, useReactFlow,
} from "@xyflow/react";
import LayerNode, { FacesContext } from "./LayerNode.jsx";
import RoutedEdge from "./RoutedEdge.jsx";
import Palette, { DRAG_TYPE } from "./Palette.jsx";
import { layOut } from "./layout.js";
import { acknowledge, edgeId, newQueue, push } from "./ops.js";
import { newFaces, update } from "./faces.js";

const NODE_TYPES = { layer: LayerNode };
const EDGE_TYPES = { routed: RoutedEdge };
const NODE_SIZE = { width: 220, height: 78 };
const READABLE_ZOOM = 0.8; // 14 px titles stay above 11 px on screen
const PADDING = 40;
const DELETE_KEYS = ["Delete", "Backspace"];
const MENU_SIZE = { width: 200, height: 130 };
const MARKER = { type: MarkerType.ArrowClosed, width: 16, height: 16 };

function toNodes(graph, selected, previous) {
  const measured = Object.fromEntries((previous || []).map((n) => [n.id, n.measured]));
  return graph.nodes.map((n) => ({
    id: n.id, type: "layer", position: { x: n.x, y: n.y }, data: {},
    selected: n.id === selected, measured: measured[n.id],
  }));
}

function toEdge(source, target, handle) {
  return {
    id: edgeId(source, target, handle), source, target, sourceHandle: "out",
    targetHandle: handle, type: "routed", markerEnd: MARKER, data: {},
  };
}

function triple(edge) {
  return { source: edge.source, target: edge.target, handle: edge.targetHandle };
}

// Re-apply an edit Python has not answered yet to a graph Python just sent.
function replay(op, nodes, edges) {
  if (op.op === "move") {
    nodes = nodes.map((n) => (op.positions[n.id] ? { ...n, position: { x: op.positions[n.id][0], y: op.positions[n.id][1] } } : n));
  } else if (op.op === "layout") {
    nodes = nodes.map((n) => (op.positions[n.id] ? { ...n, position: { x: op.positions[n.id][0], y: op.positions[n.id][1] } } : n));
  } else if (op.op === "remove") {
    const gone = new Set(op.nodes);
    const goneEdges = new Set(op.edges.map((e) => edgeId(e.source, e.target, e.handle)));
    nodes = nodes.filter((n) => !gone.has(n.id));
    edges = edges.filter((e) => !gone.has(e.source) && !gone.has(e.target) && !goneEdges.has(e.id));
  } else if (op.op === "connect") {
    const edge = toEdge(op.source, op.target, op.handle);
    if (!edges.some((e) => e.id === edge.id)) edges = [...edges, edge];
  } else if (op.op === "add" && op.position) {
    nodes = [...nodes, { id: `__new_${op.seq}`, type: "layer", position: { x: op.position[0], y: op.position[1] }, data: {} }];
  }
  return [nodes, edges];
}

function editing(target) {
  return target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA"
    || target.tagName === "SELECT" || target.isContentEditable);
}

export default function Canvas({ data, setStateValue }) {
  const flow = useReactFlow();
  const rootRef = useRef(null);
  const queue = useRef(null);
  if (queue.current === null) queue.current = newQueue();
  const [nodes, setNodes, onNodesChange] = useNodesState(toNodes(data.graph, data.selected));
  const [edges, setEdges, onEdgesChange] = useEdgesState(
    data.graph.edges.map((e) => toEdge(e.source, e.target, e.handle)));
  const [menu, setMenu] = useState(null);
  const [pendingFaces, setPendingFaces] = useState({});
  const initialized = useNodesInitialized();
  const seen = useRef({ rev: data.rev, selectRev: data.selectRev, fitRev: null, layoutRev: null });
  const todo = useRef({ fit: false, readable: true, layout: false, initialLayout: false });
  const routes = useRef({});
  const selectedRef = useRef(data.selected);
  const copied = useRef([]);
  const reconnecting = useRef(null);
  const facesRef = useRef(data.faces);
  facesRef.current = data.faces;

  const designKey = useRef(data.designKey);
  designKey.current = data.designKey;
  const send = useCallback((op) => push(queue.current, op, setStateValue, designKey.current),
    [setStateValue]);

  // Python -> browser -------------------------------------------------------------------
  useEffect(() => { acknowledge(queue.current, data.ack); }, [data.ack]);

  useEffect(() => {
    if (data.rev === seen.current.rev) return;
    seen.current.rev = data.rev;
    acknowledge(queue.current, data.ack);
    let ns = toNodes(data.graph, data.selected, flow.getNodes());
    let es = data.graph.edges.map((e) => toEdge(e.source, e.target, e.handle));
    for (const op of queue.current.pending) [ns, es] = replay(op, ns, es);
    const at = Object.fromEntries(ns.map((n) => [n.id, n.position]));
    es = es.map((e) => {
      const route = routes.current[e.id];
      const same = (a, b) => a && b && a.x === b.x && a.y === b.y;
      return route && same(route.source, at[e.source]) && same(route.target, at[e.target])
        ? { ...e, data: { route: route.points } } : e;
    });
    selectedRef.current = data.selected;
    // Keep the objects of nodes and edges that did not change, so React Flow redraws only
    // what did (an added node, not all 500).
    const before = new Map(flow.getNodes().map((n) => [n.id, n]));
    ns = ns.map((n) => {
      const old = before.get(n.id);
      return old && old.position.x === n.position.x && old.position.y === n.position.y
        && Boolean(old.selected) === Boolean(n.selected) && old.type === n.type ? old : n;
    });
    const edgesBefore = new Map(flow.getEdges().map((e) => [e.id, e]));
    es = es.map((e) => {
      const old = edgesBefore.get(e.id);
      return old && !old.selected && (old.data?.route || null) === (e.data?.route || null) ? old : e;
    });
    setNodes(ns);
    setEdges(es);
    setPendingFaces((faces) => Object.fromEntries(Object.entries(faces).filter(([id]) => ns.some((n) => n.id === id))));
  }, [data.rev]); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    if (data.selectRev === seen.current.selectRev) return;
    seen.current.selectRev = data.selectRev;
    selectedRef.current = data.selected;
    setNodes((ns) => ns.map((n) => (n.selected === (n.id === data.selected) ? n : { ...n, selected: n.id === data.selected })));
    setEdges((es) => es.map((e) => (e.selected ? { ...e, selected: false } : e)));
    if (data.focus && data.selected) {
      const node = flow.getNode(data.selected);
      if (node) {
        const w = node.measured?.width || NODE_SIZE.width;
        const h = node.measured?.height || NODE_SIZE.height;
        flow.setCenter(node.position.x + w / 2, node.position.y + h / 2,
          { zoom: Math.max(flow.getZoom(), READABLE_ZOOM), duration: 250 });
      }
    }
  }, [data.selectRev]); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    if (seen.current.fitRev === null) {
      seen.current.fitRev = data.fitRev; // first mount: the kept view, or a fit
      const kept = readViewport(data.designKey);
      if (kept) flow.setViewport(kept);
      else todo.current.fit = true;
    } else if (data.fitRev !== seen.current.fitRev) {
      seen.current.fitRev = data.fitRev;
      todo.current.fit = true;
    }
    if (seen.current.layoutRev === null) {
      seen.current.layoutRev = data.layoutRev;
    } else if (data.layoutRev !== seen.current.layoutRev) {
      seen.current.layoutRev = data.layoutRev;
      todo.current.layout = true;
      todo.current.initialLayout = Boolean(data.layoutInitial);
    }
  }, [data.fitRev, data.layoutRev]); // eslint-disable-line react-hooks/exhaustive-deps

  // Fit the whole graph (the fit button, a layout the person asked for), or, when opening a
  // design, no smaller than readable: a big graph then starts at its inputs.
  const fitReadable = useCallback((readable = true) => {
    const shown = flow.getNodes();
    const box = rootRef.current && rootRef.current.querySelector(".nc-flow");
    if (!shown.length || !box) return;
    const bounds = getNodesBounds(shown);
    const width = box.clientWidth;
    const height = box.clientHeight;
    let zoom = Math.min((width - 2 * PADDING) / Math.max(bounds.width, 1),
      (height - 2 * PADDING) / Math.max(bounds.height, 1), 1);
    let x;
    let y;
    if (zoom >= READABLE_ZOOM || !readable) {
      zoom = Math.max(zoom, 0.1);
      x = width / 2 - (bounds.x + bounds.width / 2) * zoom;
      y = height / 2 - (bounds.y + bounds.height / 2) * zoom;
    } else { // too big to read whole: readable, from the top (the inputs)
      zoom = READABLE_ZOOM;
      x = width / 2 - (bounds.x + bounds.width / 2) * zoom;
      if (bounds.width * zoom > width - 2 * PADDING) x = PADDING - bounds.x * zoom;
      y = PADDING - bounds.y * zoom;
    }
    flow.setViewport({ x, y, zoom });
    saveViewport(data.designKey, { x, y, zoom });
  }, [flow, data.designKey]);

  const runLayout = useCallback((initial) => {
    const current = flow.getNodes().filter((n) => !n.id.startsWith("__new_"));
    const { positions, routes: routed } = layOut(current, flow.getEdges());
    routes.current = routed;
    setNodes((ns) => ns.map((n) => (positions[n.id] ? { ...n, position: positions[n.id] } : n)));
    setEdges((es) => es.map((e) => ({ ...e, data: routed[e.id] ? { route: routed[e.id].points } : {} })));
    send({ op: "layout", initial, positions: Object.fromEntries(Object.entries(positions).map(([id, p]) => [id, [p.x, p.y]])) });
    todo.current.fit = true;
    todo.current.readable = initial;
  }, [flow, send, setNodes, setEdges]);

  useEffect(() => {
    if (!data.graph.nodes.length && (todo.current.fit || todo.current.layout)) {
      // nothing to fit or lay out: an empty design starts at the plain view, and the
      // first layer dropped on it stays where it was dropped
      todo.current.fit = false;
      todo.current.layout = false;
      flow.setViewport({ x: 0, y: 0, zoom: 1 });
      return;
    }
    if (!initialized) return;
    if (todo.current.layout) {
      todo.current.layout = false;
      runLayout(todo.current.initialLayout);
      return; // the fit follows once the new positions are drawn
    }
    if (todo.current.fit) {
      const readable = todo.current.readable;
      todo.current.fit = false;
      todo.current.readable = true;
      requestAnimationFrame(() => fitReadable(readable));
    }
  }, [initialized, nodes, runLayout, fitReadable, data.graph.nodes.length, flow,
    data.fitRev, data.layoutRev]); // after the effect above has read the new numbers

  // Browser -> Python -----------------------------------------------------------------
  // The selection is one thing: the node last clicked or grabbed is the inspector's. It is
  // told to Python when the mouse button is released, so a drag starts no Python run.
  const pointer = useRef({ down: false, pending: undefined });
  const choose = useCallback((id) => {
    if (id && id.startsWith("__new_")) return;
    if (pointer.current.down) {
      pointer.current.pending = id;
      return;
    }
    if (id !== selectedRef.current) {
      selectedRef.current = id;
      send({ op: "select", id });
    }
  }, [send]);
  useEffect(() => {
    const root = rootRef.current;
    const down = () => { pointer.current.down = true; };
    const up = () => {
      pointer.current.down = false;
      const { pending } = pointer.current;
      pointer.current.pending = undefined;
      if (pending !== undefined) choose(pending);
    };
    root.addEventListener("pointerdown", down, true);
    window.addEventListener("pointerup", up, true);
    return () => {
      root.removeEventListener("pointerdown", down, true);
      window.removeEventListener("pointerup", up, true);
    };
  }, [choose]);

  const onSelectionChange = useCallback(({ nodes: chosen }) => {
    const ids = chosen.map((n) => n.id);
    if (!ids.length) choose(null);
    else if (!ids.includes(selectedRef.current)) choose(ids[ids.length - 1]);
  }, [choose]);

  const onNodeDragStart = useCallback((_, grabbed, dragged) => {
    choose(grabbed.id);
    const moving = new Set(dragged.map((n) => n.id));
    setEdges((es) => es.map((e) => (e.data?.route && (moving.has(e.source) || moving.has(e.target)) ? { ...e, data: {} } : e)));
  }, [setEdges, choose]);

  const onNodeDragStop = useCallback((_, __, dragged) => {
    const positions = {};
    for (const n of dragged) if (!n.id.startsWith("__new_")) positions[n.id] = [n.position.x, n.position.y];
    if (Object.keys(positions).length) send({ op: "move", positions });
  }, [send]);

  const isValidConnection = useCallback((c) => {
    if (c.source === c.target) return false;
    const face = facesRef.current[c.target];
    if (!face || !(face.inputs || []).includes(c.targetHandle)) return false;
    return !flow.getEdges().some((e) => e.target === c.target && e.targetHandle === c.targetHandle
      && e.id !== reconnecting.current);
  }, [flow]);

  const onConnect = useCallback((c) => {
    setEdges((es) => [...es, toEdge(c.source, c.target, c.targetHandle)]);
    send({ op: "connect", source: c.source, target: c.target, handle: c.targetHandle });
  }, [send, setEdges]);

  const onReconnectStart = useCallback((_, edge) => { reconnecting.current = edge.id; }, []);
  const onReconnect = useCallback((old, c) => {
    reconnecting.current = "done";
    const moved = toEdge(c.source, c.target, c.targetHandle);
    setEdges((es) => [...es.filter((e) => e.id !== old.id && e.id !== moved.id), moved]);
    send({ op: "reconnect", from: triple(old), to: { source: c.source, target: c.target, handle: c.targetHandle } });
  }, [send, setEdges]);
  const onReconnectEnd = useCallback((_, edge) => {
    if (reconnecting.current !== "done") { // let go on nothing: the connection is removed
      setEdges((es) => es.filter((e) => e.id !== edge.id));
      send({ op: "remove", nodes: [], edges: [triple(edge)] });
    }
    reconnecting.current = null;
  }, [send, setEdges]);

  const onDelete = useCallback(({ nodes: gone, edges: goneEdges }) => {
    const ids = gone.map((n) => n.id).filter((id) => !id.startsWith("__new_"));
    if (!ids.length && !goneEdges.length) return;
    send({ op: "remove", nodes: ids, edges: goneEdges.map(triple) });
  }, [send]);

  const addAt = useCallback((type, position, onEdge) => {
    const op = { op: "add", type, position: [Math.round(position.x), Math.round(position.y)], onEdge };
    const id = `__new_${queue.current.seq + 1}`;
    setPendingFaces((faces) => ({ ...faces, [id]: { title: type, meta: "adding…", status: "pending", inputs: [] } }));
    selectedRef.current = id; // the new layer will be the selection: no deselection is sent
    setNodes((ns) => [...ns.map((n) => (n.selected ? { ...n, selected: false } : n)),
      { id, type: "layer", position: { x: op.position[0], y: op.position[1] }, data: {}, selected: true }]);
    send(op);
  }, [send, setNodes]);

  const onDragOver = useCallback((e) => {
    if (e.dataTransfer.types.includes(DRAG_TYPE)) { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; }
  }, []);

  const onDrop = useCallback((e) => {
    const type = e.dataTransfer.getData(DRAG_TYPE);
    if (!type) return;
    e.preventDefault();
    const point = flow.screenToFlowPosition({ x: e.clientX, y: e.clientY });
    const position = { x: point.x - NODE_SIZE.width / 2, y: point.y - NODE_SIZE.height / 2 };
    const hit = document.elementsFromPoint(e.clientX, e.clientY)
      .map((el) => el.closest && el.closest(".react-flow__edge")).find(Boolean);
    const edge = hit ? flow.getEdges().find((ed) => ed.id === hit.getAttribute("data-id")) : null;
    addAt(type, position, edge ? triple(edge) : null);
  }, [flow, addAt]);

  const duplicate = useCallback((ids) => {
    const real = ids.filter((id) => !id.startsWith("__new_"));
    if (real.length) send({ op: "duplicate", ids: real });
  }, [send]);

  // Keyboard: undo/redo through the design's history, copy/paste/duplicate.
  useEffect(() => {
    const onKey = (e) => {
      if (!(e.ctrlKey || e.metaKey) || editing(e.target) || !rootRef.current) return;
      const active = document.activeElement;
      if (!(rootRef.current.contains(active) || active === document.body)) return;
      const key = e.key.toLowerCase();
      const selected = flow.getNodes().filter((n) => n.selected).map((n) => n.id);
      if (key === "z" && !e.shiftKey) send({ op: "undo" });
      else if ((key === "z" && e.shiftKey) || key === "y") send({ op: "redo" });
      else if (key === "c") { copied.current = selected; return; }
      else if (key === "v") duplicate(copied.current);
      else if (key === "d") duplicate(selected);
      else return;
      e.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [flow, send, duplicate]);

  // Context menus --------------------------------------------------------------------
  const openMenu = useCallback((e, kind, id) => {
    e.preventDefault();
    const box = rootRef.current.getBoundingClientRect();
    // kept inside the canvas: a menu opened near its bottom or right edge opens up or left
    const left = Math.min(e.clientX - box.left, box.width - MENU_SIZE.width);
    const top = Math.min(e.clientY - box.top, box.height - MENU_SIZE.height);
    setMenu({ kind, id, left, top,
      at: flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }) });
  }, [flow]);

  // Stable handlers: new function props on every Python run would make React Flow
  // re-render more than the one node whose face changed.
  const onNodeClick = useCallback((_, n) => choose(n.id), [choose]);
  const onNodeContextMenu = useCallback((e, n) => openMenu(e, "node", n.id), [openMenu]);
  const onEdgeContextMenu = useCallback((e, ed) => openMenu(e, "edge", ed.id), [openMenu]);
  const onPaneContextMenu = useCallback((e) => openMenu(e, "pane", null), [openMenu]);
  const onPaneClick = useCallback(() => setMenu(null), []);
  const onMoveEnd = useCallback((_, viewport) => saveViewport(data.designKey, viewport),
    [data.designKey]);
  const onAdd = useCallback((type) => send({ op: "add", type, position: null, onEdge: null }),
    [send]);
  const onQuickAdd = useCallback((text) => send({ op: "quick_add", text, position: null }),
    [send]);

  const menuItems = () => {
    if (!menu) return null;
    const close = (action) => () => { setMenu(null); action(); };
    if (menu.kind === "node") {
      const node = flow.getNode(menu.id);
      const touching = flow.getEdges().filter((e) => e.source === menu.id || e.target === menu.id);
      return (
        <>
          <button type="button" onClick={close(() => duplicate([menu.id]))}>Duplicate</button>
          <button type="button" disabled={!touching.length} onClick={close(() => {
            setEdges((es) => es.filter((e) => !touching.includes(e)));
            send({ op: "remove", nodes: [], edges: touching.map(triple) });
          })}>Disconnect</button>
          <button type="button" onClick={close(() => node && flow.deleteElements({ nodes: [node] }))}>Delete</button>
        </>
      );
    }
    if (menu.kind === "edge") {
      const edge = flow.getEdge(menu.id);
      return <button type="button" onClick={close(() => edge && flow.deleteElements({ edges: [edge] }))}>Delete connection</button>;
    }
    return (
      <>
        <input className="nc-menu-input" autoFocus placeholder="Type a layer: Dense 64 relu"
               aria-label="Type a layer to add here"
               onKeyDown={(e) => {
                 if (e.key === "Escape") setMenu(null);
                 if (e.key === "Enter" && e.target.value.trim()) {
                   const text = e.target.value.trim();
                   setMenu(null);
                   send({ op: "quick_add", text, position: [Math.round(menu.at.x), Math.round(menu.at.y)] });
                 }
               }} />
        <button type="button" onClick={close(() => runLayout(false))}>Auto-layout</button>
        <button type="button" onClick={close(() => fitReadable(false))}>Fit view</button>
      </>
    );
  };

  const facesStore = useRef(null);
  if (facesStore.current === null) {
    facesStore.current = newFaces();
    update(facesStore.current, data.faces);
  }
  useLayoutEffect(() => { // before the paint: the changed nodes redraw with it
    update(facesStore.current, { ...data.faces, ...pendingFaces });
  }, [data.faces, pendingFaces]);

  return (
    <FacesContext.Provider value={facesStore.current}>
      <div className="nc-root" ref={rootRef} tabIndex={-1}>
        <Palette groups={data.palette} onAdd={onAdd} onQuickAdd={onQuickAdd} />
        <div className="nc-flow" onDragOver={onDragOver} onDrop={onDrop}>
          <ReactFlow nodes={nodes} edges={edges} nodeTypes={NODE_TYPES} edgeTypes={EDGE_TYPES}
            onNodesChange={onNodesChange} onEdgesChange={onEdgesChange}
            onSelectionChange={onSelectionChange} onNodeClick={onNodeClick}
            onNodeDragStart={onNodeDragStart} onNodeDragStop={onNodeDragStop}
            onConnect={onConnect} isValidConnection={isValidConnection}
            onReconnect={onReconnect} onReconnectStart={onReconnectStart} onReconnectEnd={onReconnectEnd}
            onDelete={onDelete} deleteKeyCode={DELETE_KEYS}
            onNodeContextMenu={onNodeContextMenu} onEdgeContextMenu={onEdgeContextMenu}
            onPaneContextMenu={onPaneContextMenu} onPaneClick={onPaneClick} onMoveEnd={onMoveEnd}
            minZoom={0.05} maxZoom={2.5} selectionOnDrag={false} panOnDrag
            selectionKeyCode="Shift" multiSelectionKeyCode={["Meta", "Control"]}
            proOptions={{ hideAttribution: true }} defaultEdgeOptions={{ type: "routed" }}>
            <Background gap={24} size={1} />
            <Controls showInteractive={false} fitViewOptions={{ padding: 0.1 }} />
            <MiniMap pannable zoomable nodeStrokeWidth={3} style={{ width: 150, height: 100 }} />
            {data.notices && data.notices.length ? (
              // Problems of the whole design (empty, no output...) float over the canvas:
              // above it they pushed the canvas down and up as they came and went.
              <Panel position="bottom-center" className="nc-notices">
                {data.notices.map((text, i) => <div key={i} className="nc-notice" role="status">{text}</div>)}
              </Panel>
            ) : null}
          </ReactFlow>
          {menu ? (
            <div className="nc-menu" style={{ left: menu.left - (rootRef.current.querySelector(".nc-flow").offsetLeft), top: menu.top }}
                 role="menu">{menuItems()}</div>
          ) : null}
        </div>
      </div>
    </FacesContext.Provider>
  );
}

function viewportKey(designKey) {
  return `neural-canvas:viewport:${designKey}`;
}

function readViewport(designKey) {
  try {
    const kept = JSON.parse(window.sessionStorage.getItem(viewportKey(designKey)) || "null");
    return kept && Number.isFinite(kept.x) && Number.isFinite(kept.y) && Number.isFinite(kept.zoom) ? kept : null;
  } catch (e) {
    return null;
  }
}

function saveViewport(designKey, viewport) {
  try {
    window.sessionStorage.setItem(viewportKey(designKey), JSON.stringify(viewport));
  } catch (e) { /* storage full or off: the view is simply not kept across pages */ }
}
