// The palette: every layer from the catalog (sent by Python), grouped by category, with a
// search box that also takes quick-add text ("Conv2D 32 3 relu", Enter). Drag an entry
// onto the canvas to place it; click it to append it below the selected node.
import React, { memo, useState } from "react";

export const DRAG_TYPE = "application/x-neural-canvas-layer";

function Palette({ groups, onAdd, onQuickAdd }) {
  const [text, setText] = useState("");
  const [open, setOpen] = useState(() => Object.fromEntries(groups.map((g) => [g.category, g.open])));
  const query = text.trim().split(/\s+/)[0].toLowerCase();
  const searching = query.length > 0;
  return (
    <aside className="nc-palette">
      <input className="nc-search" value={text} placeholder="Search or type: Conv2D 32 3 relu"
             aria-label="Search layers or type a layer"
             onChange={(e) => setText(e.target.value)}
             onKeyDown={(e) => {
               if (e.key === "Enter" && text.trim()) { onQuickAdd(text.trim()); setText(""); }
             }} />
      <div className="nc-palette-list">
        {groups.map((group) => {
          const types = searching
            ? group.types.filter((t) => t.id.toLowerCase().includes(query) || t.title.toLowerCase().includes(query))
            : group.types;
          if (!types.length) return null;
          const shown = searching || open[group.category];
          return (
            <div key={group.category} className="nc-group">
              <button type="button" className="nc-group-title" aria-expanded={shown}
                      onClick={() => setOpen({ ...open, [group.category]: !open[group.category] })}>
                {shown ? "▾" : "▸"} {group.category}
              </button>
              {shown ? types.map((t) => (
                <div key={t.id} className={`nc-item nc-cat-${group.key}`} draggable role="button" tabIndex={0}
                     data-type={t.id} title={`${t.id}: ${t.help}`}
                     onDragStart={(e) => {
                       e.dataTransfer.setData(DRAG_TYPE, t.id);
                       e.dataTransfer.setData("text/plain", t.id);
                       e.dataTransfer.effectAllowed = "copy";
                     }}
                     onClick={() => onAdd(t.id)}
                     onKeyDown={(e) => { if (e.key === "Enter") onAdd(t.id); }}>
                  {t.title}
                </div>
              )) : null}
            </div>
          );
        })}
      </div>
    </aside>
  );
}

// Python sends the palette on every run; it is drawn again only when it changed.
export default memo(Palette, (before, after) => before.onAdd === after.onAdd
  && before.onQuickAdd === after.onQuickAdd
  && JSON.stringify(before.groups) === JSON.stringify(after.groups));
