// The live animation, played in the browser (demo/streamlit_player.py sends the frames).
//
// The server decodes a sentence step by step and sends every step's picture at once, as plotly JSON; this
// draws one frame, waits `delay` seconds, draws the next, and stays on the last. The charts are drawn by the
// page's own plotly.js (the one Streamlit loads for its charts), so a frame looks exactly like the chart that
// replaces it when the animation is over. Text is set as text, never as HTML.
//
// data (JSON text): {delay, config, template, frames: [{figure: {data, layout} | null, note, caption}]}

export default function (component) {
  const { parentElement } = component;
  const play = JSON.parse(component.data);
  let root = parentElement.querySelector(".lab-player");
  if (!root) {
    root = document.createElement("div");
    root.className = "lab-player";
    root.innerHTML = "<div class='lab-player-note'></div><div class='lab-player-chart'></div>" +
                     "<div class='lab-player-caption'></div>";
    parentElement.appendChild(root);
  }
  const chart = root.querySelector(".lab-player-chart");
  const note = root.querySelector(".lab-player-note");
  const caption = root.querySelector(".lab-player-caption");
  clearTimeout(root.timer);                      // new frames replace a run still playing
  root.dataset.steps = String(play.frames.length);

  let shown = 0;
  let start = null;                              // frame i is due at start + i × delay, however long drawing takes
  const draw = () => {
    if (!window.Plotly) {                        // Streamlit loads plotly.js with its first chart: wait for it
      root.timer = setTimeout(draw, 50);
      return;
    }
    start = start ?? performance.now();
    const frame = play.frames[shown];
    if (frame.figure) {
      const layout = { ...frame.figure.layout, template: play.template };
      window.Plotly.react(chart, frame.figure.data, layout, { ...play.config, responsive: true });
    }
    chart.hidden = !frame.figure;
    note.hidden = !frame.note;
    note.textContent = frame.note || "";
    caption.hidden = !frame.caption;
    caption.textContent = frame.caption || "";
    shown += 1;
    root.dataset.step = String(shown);         // what the browser tests read: the frame on screen
    if (shown < play.frames.length) {
      root.timer = setTimeout(draw, Math.max(0, start + shown * play.delay * 1000 - performance.now()));
    }
  };
  draw();

  return () => {
    clearTimeout(root.timer);
    if (window.Plotly) {
      window.Plotly.purge(chart);
    }
  };
}
