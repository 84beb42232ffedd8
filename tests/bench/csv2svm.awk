# csv2svm.awk -- CSV with a header row and the label in column 1 (as written
# by tools/idx2csv) to svmlight/libsvm text for LIBLINEAR:
#
#     label idx:val idx:val ...
#
# Features are numbered from 1 (column 2 of the CSV is feature 1), zeros are
# left out (the format is sparse), and each value is divided by `scale'
# (-v scale=255 maps pixels to [0,1], as LIBLINEAR users usually do).
#
# Usage: awk -F, -v scale=255 -f csv2svm.awk train.csv > train.svm
BEGIN { if (scale == "") scale = 1; CONVFMT = "%.6g" }
NR == 1 { next }
{
	line = $1
	for (i = 2; i <= NF; i++)
		if ($i != 0)
			line = line " " (i - 1) ":" ($i / scale)
	print line
}
