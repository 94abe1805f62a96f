// Package payoutfile writes a period's payouts out of the payouts.payable
// topic as files for people and banks: CSV, XLSX and ISO 20022 pain.001
// credit-transfer initiations.
//
// Read scans the topic once, read_committed, from its start to the end
// offsets it finds when it starts, and sums the amounts of the period per
// rep and currency (Totals). Records are deltas — a clawback is negative,
// and a key may come in several records — so amounts are summed and
// records are never counted as payments. Money is decimal.Decimal
// throughout: a file's sums equal the records' sums to the last digit.
//
// WriteCSV, WriteXLSX and WritePain001 write the totals. A pain.001 pays
// only positive nets and needs a bank account for each rep paid (Accounts,
// read from a CSV file by ReadAccounts); its Result says what was left
// out and why, so that paid plus left out still adds up to the topic.
package payoutfile
