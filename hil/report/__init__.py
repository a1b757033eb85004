"""Reports of a lab run: allure labels and steps, the qualification matrix, the HTML report.

`pytest_hooks` is the reporting half of the pytest plugin (labels, one step per
console command, transcripts and board facts attached, progress lines);
`build` turns allure results (one run or many, merged) into `out/report`:
the Allure 3 report (npm `allure`, no Java) plus `matrix.html`/`.md`/`.json`.
"""
