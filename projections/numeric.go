package projections

import (
	"math/big"

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

func microsNumeric(m domain.Micros) pgtype.Numeric { return toNumeric(&m) }
