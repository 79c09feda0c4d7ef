"""The wall's dark theme: one stylesheet, sized in viewport units.

Sizes are in ``vw``/``vh`` so one layout is legible from across a room at 1920×1080 and at
3840×2160 alike (the text doubles in pixels with the screen). The same sheet is given to
every HTML pane (Panel renders panes in shadow roots, which page CSS does not reach).
"""

from __future__ import annotations

BACKGROUND = "#050b18"

CSS = """
:host, body { background: #050b18; color: #e6f0ff;
  font-family: "WenQuanYi Micro Hei", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei",
  "DejaVu Sans", sans-serif; }
.gw { font-size: 0.78vw; line-height: 1.35; color: #e6f0ff; }
.gw * { box-sizing: border-box; }
.gw-header { display: flex; align-items: center; justify-content: space-between;
  padding: 0.3vw 0.8vw; background: linear-gradient(90deg, #0a1f44, #07142c 60%, #0a1f44);
  border-bottom: 2px solid #1f6feb; }
.gw-title { font-size: 1.55vw; font-weight: 700; letter-spacing: 0.08em; color: #9fd3ff; }
.gw-clock { font-size: 1.1vw; color: #cfe3ff; font-variant-numeric: tabular-nums; }
.gw-strip { display: flex; gap: 1.2vw; align-items: center; font-size: 0.8vw; }
.gw-dot { display: inline-block; width: 0.7vw; height: 0.7vw; border-radius: 50%;
  margin-right: 0.3vw; vertical-align: middle; }
.gw-live { background: #26c281; box-shadow: 0 0 0.6vw #26c281; }
.gw-stale { background: #f5a623; box-shadow: 0 0 0.6vw #f5a623; }
.gw-disconnected { background: #e84142; box-shadow: 0 0 0.6vw #e84142; }
.gw-banner { padding: 0.45vw 1vw; font-size: 1.05vw; font-weight: 700; text-align: center;
  letter-spacing: 0.05em; border-radius: 0.3vw; }
.gw-banner.stale { background: #7a4a00; color: #ffe3b0; border: 2px solid #f5a623; }
.gw-banner.disconnected { background: #6b0f12; color: #ffd7d7; border: 2px solid #e84142;
  animation: gw-pulse 1.6s ease-in-out infinite; }
@keyframes gw-pulse { 50% { opacity: 0.72; } }
.gw-card { background: rgba(10, 28, 60, 0.85); border: 1px solid #1d3b6e; border-radius: 0.35vw;
  padding: 0.45vw 0.6vw; margin-bottom: 0.45vw; }
.gw-card h3 { margin: 0 0 0.35vw 0; font-size: 0.95vw; color: #7cc4ff; font-weight: 700;
  letter-spacing: 0.06em; border-left: 0.25vw solid #1f6feb; padding-left: 0.4vw; }
.gw-tiles { display: grid; grid-template-columns: repeat(2, 1fr); gap: 0.4vw; }
.gw-tile { background: #0b2149; border: 1px solid #1d3b6e; border-radius: 0.3vw;
  padding: 0.35vw 0.5vw; }
.gw-tile .v { font-size: 1.9vw; font-weight: 700; font-variant-numeric: tabular-nums;
  color: #e6f0ff; line-height: 1.1; }
.gw-tile .k { font-size: 0.75vw; color: #9fb8dd; }
.gw-tile.ok .v { color: #4ee39a; } .gw-tile.warn .v { color: #ffc04d; }
.gw-tile.bad .v { color: #ff6b6b; }
.gw-bar { display: flex; align-items: center; gap: 0.4vw; margin: 0.18vw 0; }
.gw-bar .n { width: 5.2vw; color: #cfe3ff; white-space: nowrap; overflow: hidden; }
.gw-bar .t { flex: 1; background: #0b1a36; height: 0.95vw; border-radius: 0.2vw; }
.gw-bar .f { height: 100%; border-radius: 0.2vw;
  background: linear-gradient(90deg, #1f6feb, #46c2ff); }
.gw-bar .c { width: 3vw; text-align: right; font-variant-numeric: tabular-nums; }
table.gw-table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
table.gw-table td, table.gw-table th { padding: 0.16vw 0.3vw; border-bottom: 1px solid #14294d;
  text-align: left; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
  max-width: 12vw; }
table.gw-table th { color: #7cc4ff; font-weight: 600; }
table.gw-fixed { table-layout: fixed; } table.gw-fixed td { max-width: none; }
.up { color: #4ee39a; } .down { color: #ff6b6b; } .flat { color: #7f93b5; }
.sev-critical { color: #ff5b57; font-weight: 700; } .sev-warning { color: #ffc04d; }
.sev-info { color: #5ac8fa; }
.st-acknowledged { color: #8fb3ff; } .st-silenced { color: #9a9aa6; }
.st-open { color: #ff9f7a; } .st-resolved { color: #4ee39a; }
.late { color: #ff6b6b; font-weight: 700; } .soon { color: #ffc04d; }
.gw-spark { display: flex; align-items: center; gap: 0.4vw; margin: 0.1vw 0; }
.gw-spark .n { width: 7.5vw; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.gw-spark svg { flex: 1; height: 1.3vw; }
.gw-empty { color: #6f86ad; font-style: italic; }
.gw-legend { display: flex; gap: 0.9vw; font-size: 0.75vw; color: #cfe3ff; }
.gw-legend i { display: inline-block; width: 0.8vw; height: 0.8vw; border-radius: 0.15vw;
  margin-right: 0.25vw; vertical-align: middle; }
.gw-steps { display: flex; gap: 0.3vw; }
.gw-step { flex: 1; padding: 0.35vw; border-radius: 0.25vw; background: #0b1a36;
  border: 1px solid #1d3b6e; text-align: center; }
.gw-step.done { background: #0f3a2a; border-color: #26c281; }
.gw-step.current { background: #3a2a05; border-color: #f5a623; }
.gw-step .s { font-weight: 700; } .gw-step .w { font-size: 0.7vw; color: #9fb8dd; }
.gw-msg.ok { color: #4ee39a; } .gw-msg.bad { color: #ff6b6b; }
.tip-title { font-weight: 700; margin-bottom: 4px; }
"""
