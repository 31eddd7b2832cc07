// A layer as a node: category colour, quick-add title, id, output shape and parameter
// count; a problem as a badge and its first sentence in a fixed slot (the node keeps its
// size); one named input handle per input slot on top, one output handle below.
import React, { createContext, memo, useContext, useEffect } from "react";
import { Handle, Position, useUpdateNodeInternals } from "@xyflow/react";
import { useFace } from "./faces.js";

export const FacesContext = createContext(null); // the faces store (faces.js), set once

const MISSING = { title: "…", type: "", category: "", inputs: [], meta: "", status: "ok" };

function LayerNode({ id, selected }) {
  const face = useFace(useContext(FacesContext), id) || MISSING;
  const updateNodeInternals = useUpdateNodeInternals();
  const inputs = face.inputs || [];
  const handleKey = inputs.join("|");
  useEffect(() => { updateNodeInternals(id); }, [id, handleKey, updateNodeInternals]);
  const classes = ["nc-node", `nc-status-${face.status}`, `nc-cat-${face.categoryKey || "other"}`];
  if (selected) classes.push("nc-selected");
  if (face.isOutput) classes.push("nc-output");
  return (
    <div className={classes.join(" ")} title={face.hover || ""} data-nodeid={id}>
      {inputs.map((name, i) => (
        <Handle key={name} type="target" id={name} position={Position.Top}
                style={{ left: `${((i + 1) * 100) / (inputs.length + 1)}%` }}>
          {face.namedInputs ? <span className="nc-handle-label">{face.inputLabels[i]}</span> : null}
        </Handle>
      ))}
      <div className="nc-band" />
      <div className="nc-head">
        <span className="nc-title">{face.title}</span>
        <span className="nc-params">{face.params}</span>
      </div>
      <div className="nc-meta">{face.meta}</div>
      <div className="nc-problem-slot">
        {face.problem ? (
          <span className="nc-problem"><span className="nc-badge">{face.problemCount}</span>{face.problem}</span>
        ) : face.note ? <span className="nc-note">{face.note}</span> : null}
      </div>
      {face.isOutput ? <div className="nc-output-tag">output</div> : null}
      <Handle type="source" id="out" position={Position.Bottom} />
    </div>
  );
}

export default memo(LayerNode);
