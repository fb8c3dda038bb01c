package projections

import (
	"math/big"
	"math/bits"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/cxsms/cxsms/domain"
)

// numeric carries money between PostgreSQL's numeric and domain.Micros
// without a float on the way.
type numeric struct{ pgtype.Numeric }

func (n *numeric) micros() *domain.Micros {
	if !n.Valid || n.Int == nil {
		return nil
	}
	v := new(big.Int).Set(n.Int)
	exp := int(n.Exp) + 6
	ten := big.NewInt(10)
	for ; exp > 0; exp-- {
		v.Mul(v, ten)
	}
	for ; exp < 0; exp++ {
		v.Quo(v, ten)
	}
	m := domain.Micros(v.Int64())
	return &m
}

// toNumeric encodes micros for a numeric column; nil is NULL.
func toNumeric(m *domain.Micros) pgtype.Numeric {
	if m == nil {
		return pgtype.Numeric{}
	}
	return pgtype.Numeric{Int: big.NewInt(int64(*m)), Exp: -6, Valid: true}
}

// microSum is a sum of Micros in 128 bits (hi*2^64 + lo, two's
// complement). One price fits Micros, but a sum of them need not: ten IDR
// prices of 999,999,999,999 wrapped around int64 to a negative total, with
// no error. It costs no allocation, unlike a big.Int per row.
type microSum struct {
	hi int64
	lo uint64
}

// plus returns s + m.
func (s microSum) plus(m domain.Micros) microSum {
	lo, carry := bits.Add64(s.lo, uint64(m), 0)
	return microSum{hi: s.hi + int64(m)>>63 + int64(carry), lo: lo}
}

// addSum adds sign (1 or -1) times o to s.
func (s *microSum) addSum(o microSum, sign int64) {
	if sign < 0 {
		// -o: invert and add one.
		lo, carry := bits.Add64(^o.lo, 1, 0)
		o = microSum{hi: ^o.hi + int64(carry), lo: lo}
	}
	lo, carry := bits.Add64(s.lo, o.lo, 0)
	s.hi, s.lo = s.hi+o.hi+int64(carry), lo
}

// big is s as a big.Int.
func (s microSum) big() *big.Int {
	v := new(big.Int).Lsh(big.NewInt(s.hi), 64)
	return v.Add(v, new(big.Int).SetUint64(s.lo))
}

// numeric encodes s for a numeric column, in units of a millionth.
func (s microSum) numeric() pgtype.Numeric {
	return pgtype.Numeric{Int: s.big(), Exp: -6, Valid: true}
}
