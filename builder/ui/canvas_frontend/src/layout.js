// Auto-layout: dagre's layered drawing, top to bottom, with each node's measured size.
// Returns node positions (top-left corners) and, per edge id, the waypoints dagre routed
// the edge through, so long edges (skip connections, loops) go around nodes, not behind.
import dagre from "@dagrejs/dagre";

const DEFAULT_SIZE = { width: 220, height: 78 };

export function layOut(nodes, edges) {
  const graph = new dagre.graphlib.Graph({ multigraph: true });
  graph.setGraph({ rankdir: "TB", nodesep: 36, ranksep: 56, edgesep: 24, marginx: 0, marginy: 0 });
  graph.setDefaultEdgeLabel(() => ({}));
  const sizes = {};
  for (const node of nodes) {
    const size = {
      width: node.measured?.width || DEFAULT_SIZE.width,
      height: node.measured?.height || DEFAULT_SIZE.height,
    };
    sizes[node.id] = size;
    graph.setNode(node.id, size);
  }
  for (const edge of edges) {
    if (sizes[edge.source] && sizes[edge.target]) {
      graph.setEdge(edge.source, edge.target, {}, edge.id);
    }
  }
  dagre.layout(graph);
  const positions = {};
  for (const node of nodes) {
    const placed = graph.node(node.id);
    const size = sizes[node.id];
    positions[node.id] = { x: Math.round(placed.x - size.width / 2), y: Math.round(placed.y - size.height / 2) };
  }
  const routes = {};
  for (const edge of edges) {
    const routed = graph.edge({ v: edge.source, w: edge.target, name: edge.id });
    if (routed && routed.points && routed.points.length > 3) { // more than one rank apart
      routes[edge.id] = {
        points: routed.points.slice(1, -1).map((p) => ({ x: p.x, y: p.y })),
        source: positions[edge.source],
        target: positions[edge.target],
      };
    }
  }
  return { positions, routes };
}
