window.MathJax = {
  tex: { inlineMath: [["\\(", "\\)"]], displayMath: [["\\[", "\\]"]], processEscapes: true, processEnvironments: true },
  options: { ignoreHtmlClass: ".*|", processHtmlClass: "arithmatex" },
};

// Shrink a display equation that is wider than the column, down to 70 %; CSS
// lets what is still too wide scroll.
function fitDisplayMath() {
  document.querySelectorAll('mjx-container[display="true"]').forEach((box) => {
    box.style.fontSize = "";
    const column = box.parentElement.clientWidth;
    const width = box.firstElementChild ? box.firstElementChild.scrollWidth : box.scrollWidth;
    if (column > 0 && width > column) {
      box.style.fontSize = `${Math.max(70, Math.floor((100 * column) / width))}%`;
    }
  });
}

document$.subscribe(() => {
  if (MathJax.typesetPromise) {
    MathJax.typesetPromise().then(fitDisplayMath);
  }
});
window.addEventListener("resize", fitDisplayMath);
