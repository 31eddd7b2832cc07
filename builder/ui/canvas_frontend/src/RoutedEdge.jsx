// An edge drawn as a bezier between its handles, or, after auto-layout, along the
// waypoints the layout routed it through (rounded corners), so it goes around nodes.
import React from "react";
import { BaseEdge, EdgeLabelRenderer, getBezierPath } from "@xyflow/react";

const CORNER = 14;

function roundedPath(points) {
  let path = `M ${points[0].x} ${points[0].y}`;
  for (let i = 1; i < points.length - 1; i += 1) {
    const [prev, corner, next] = [points[i - 1], points[i], points[i + 1]];
    const into = Math.hypot(corner.x - prev.x, corner.y - prev.y) || 1;
    const out = Math.hypot(next.x - corner.x, next.y - corner.y) || 1;
    const r = Math.min(CORNER, into / 2, out / 2);
    const a = { x: corner.x - ((corner.x - prev.x) * r) / into, y: corner.y - ((corner.y - prev.y) * r) / into };
    const b = { x: corner.x + ((next.x - corner.x) * r) / out, y: corner.y + ((next.y - corner.y) * r) / out };
    path += ` L ${a.x} ${a.y} Q ${corner.x} ${corner.y} ${b.x} ${b.y}`;
  }
  const last = points[points.length - 1];
  return `${path} L ${last.x} ${last.y}`;
}

export default function RoutedEdge(props) {
  const { id, sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, data, markerEnd, style, label } = props;
  let path;
  let labelX;
  let labelY;
  const route = data && data.route;
  if (route && route.length) {
    const points = [{ x: sourceX, y: sourceY }, { x: sourceX, y: sourceY + 12 }, ...route,
      { x: targetX, y: targetY - 12 }, { x: targetX, y: targetY }];
    path = roundedPath(points);
    labelX = targetX;
    labelY = targetY - 18;
  } else {
    [path, labelX, labelY] = getBezierPath({ sourceX, sourceY, sourcePosition, targetX, targetY, targetPosition });
    labelX = targetX;
    labelY = targetY - 18;
  }
  return (
    <>
      <BaseEdge id={id} path={path} markerEnd={markerEnd} style={style} interactionWidth={16} />
      {label ? (
        <EdgeLabelRenderer>
          <div className="nc-edge-label nodrag nopan"
               style={{ transform: `translate(-50%, -50%) translate(${labelX}px, ${labelY}px)` }}>
            {label}
          </div>
        </EdgeLabelRenderer>
      ) : null}
    </>
  );
}
